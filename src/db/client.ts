import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { schema, type Schema } from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, Schema>;

/** The minimal SQL surface pg-boss needs (its `db` option), bound to a pool or to one transaction. */
export interface SqlExecutor {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

export interface Database {
  kind: 'pglite' | 'pg';
  db: Db;
  /** For pg-boss outside transactions. */
  executor: SqlExecutor;
  /** The same, bound to an open drizzle transaction (so a job is sent iff the transaction commits). */
  executorFor(tx: Db): SqlExecutor;
  ping(): Promise<void>;
  /** Applies the committed SQL migrations (idempotent). */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

const MIGRATION_LOCK = 0x1af40001;

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

export interface OpenOptions {
  /** pg only: pool size. */
  poolSize?: number;
}

export async function openDatabase(url: string, opts: OpenOptions = {}): Promise<Database> {
  if (url.startsWith('pglite://')) return openPglite(url.slice('pglite://'.length));
  return openPg(url, opts);
}

async function openPglite(location: string): Promise<Database> {
  const inMemory = location === '' || location === 'memory';
  if (!inMemory) mkdirSync(location, { recursive: true });
  const client = new PGlite(inMemory ? undefined : location);
  await client.waitReady;
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  const run = async (q: { query(t: string, v?: unknown[]): Promise<{ rows: unknown[] }>; exec(t: string): Promise<Array<{ rows: unknown[] }>> }, text: string, values?: unknown[]) => {
    // pg-boss sends multi-statement scripts without parameters; PGlite runs those with exec().
    if (!values || values.length === 0) {
      const results = await q.exec(text);
      return results[results.length - 1] ?? { rows: [] };
    }
    return q.query(text, values);
  };
  return {
    kind: 'pglite',
    db,
    executor: { executeSql: (text, values) => run(client, text, values) },
    executorFor: (tx) => ({ executeSql: (text, values) => run(sessionClient(tx) as never, text, values) }),
    ping: async () => {
      await client.query('select 1');
    },
    migrate: async () => {
      await migratePglite(db as never, { migrationsFolder: MIGRATIONS_DIR });
    },
    close: async () => {
      if (!client.closed) await client.close();
    },
  };
}

async function openPg(url: string, opts: OpenOptions): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
  // A dropped connection must not crash the process; the pool replaces it on next use.
  pool.on('error', () => {});
  const db = drizzlePg(pool, { schema }) as unknown as Db;
  return {
    kind: 'pg',
    db,
    executor: { executeSql: (text, values) => pool.query(text, values as unknown[]) },
    executorFor: (tx) => ({ executeSql: (text, values) => (sessionClient(tx) as pg.PoolClient).query(text, values as unknown[]) }),
    ping: async () => {
      await pool.query('select 1');
    },
    migrate: async () => {
      // Several replicas may start at once: a session advisory lock (on one dedicated
      // connection) lets one migrate while the others wait, then find nothing to do.
      const conn = await pool.connect();
      try {
        await conn.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
        try {
          await migratePg(drizzlePg(conn, { schema }), { migrationsFolder: MIGRATIONS_DIR });
        } finally {
          await conn.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]);
        }
      } finally {
        conn.release();
      }
    },
    close: async () => {
      await pool.end();
    },
  };
}

/**
 * The driver client under a drizzle transaction (a pg PoolClient or a PGlite Transaction).
 * drizzle keeps it as `session.client` on both drivers (drizzle-orm 0.45, pinned); a test
 * proves that a job sent through it commits and rolls back with the transaction.
 */
function sessionClient(tx: Db): unknown {
  const client = (tx as unknown as { session?: { client?: unknown } }).session?.client;
  if (!client) throw new Error('drizzle transaction has no session.client: drizzle-orm internals changed');
  return client;
}
