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

/** A statement of the hot paths, written once as SQL (no query building per call). */
export interface Statement {
  /** On PostgreSQL the name of a prepared statement: parsed and planned once per connection. */
  name: string;
  text: string;
}

export interface Database {
  kind: 'pglite' | 'pg';
  db: Db;
  /** Runs a statement outside a transaction or, given `tx`, inside that drizzle transaction. */
  query<T>(stmt: Statement, values: unknown[], tx?: Db): Promise<T[]>;
  /** For pg-boss outside transactions. */
  executor: SqlExecutor;
  /** The same, bound to an open drizzle transaction (so a job is sent iff the transaction commits). */
  executorFor(tx: Db): SqlExecutor;
  ping(): Promise<void>;
  /**
   * LISTEN on a channel. `onState(true)` once listening (again), `onState(false)` when the
   * listening connection is lost: notifications may have been missed until the next `true`.
   * PostgreSQL: one dedicated connection, reconnected with backoff. PGlite: notifications of a
   * transaction are delivered before its commit returns.
   */
  listen(channel: string, onPayload: (payload: string) => void, onState: (listening: boolean) => void): Promise<{ close(): Promise<void> }>;
  /** Applies the committed SQL migrations (idempotent). */
  migrate(): Promise<void>;
  /**
   * Runs start-up work that creates database objects outside the migrations (pg-boss installs
   * its schema) one process at a time: two replicas or workers starting together on a new
   * database raced on CREATE SCHEMA (a unique violation pg-boss does not expect).
   */
  serialized<T>(work: () => Promise<T>): Promise<T>;
  /**
   * VACUUMs these tables (null: the whole database, with ANALYZE) and answers which it did. On
   * PostgreSQL only one replica at a time: the others answer [] at once (src/jobs/upkeep.ts).
   */
  vacuum(tables: readonly string[] | null): Promise<string[]>;
  close(): Promise<void>;
}

const MIGRATION_LOCK = 0x1af40001;
const STARTUP_LOCK = 0x1af40002;
const UPKEEP_LOCK = 0x1af40003;

/** A plain lower-case SQL identifier: what may be written into a statement's text. */
const IDENT = /^[a-z_][a-z0-9_]*$/;

/** `schema.table` or `table` (the list is ours, but it ends up in SQL). */
function vacuumTarget(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENT.test(p))) throw new Error(`not a table name: ${table}`);
  return table;
}

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
  // Embedded mode serves one site from one process: PGlite's default 128 MB of shared
  // buffers is memory the process holds for data the OS caches anyway (issue 5: RSS ≤ 300 MB).
  const client = new PGlite(inMemory ? undefined : location, { startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'] });
  await client.waitReady;
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  const run = async (
    q: { query(t: string, v?: unknown[]): Promise<{ rows: unknown[] }>; exec(t: string): Promise<Array<{ rows: unknown[] }>> },
    text: string,
    values?: unknown[],
  ) => {
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
    // PGlite runs in this process: there is no round trip to save by naming a statement.
    query: async <T>(stmt: Statement, values: unknown[], tx?: Db) => {
      const target = (tx ? sessionClient(tx) : client) as Pick<PGlite, 'query'>;
      return (await target.query<T>(stmt.text, values)).rows;
    },
    executor: { executeSql: (text, values) => run(client, text, values) },
    executorFor: (tx) => ({ executeSql: (text, values) => run(sessionClient(tx) as never, text, values) }),
    ping: async () => {
      await client.query('select 1');
    },
    serialized: (work) => work(),
    vacuum: async (tables) => {
      if (tables === null) {
        await client.exec('VACUUM (ANALYZE)');
        return ['*'];
      }
      for (const t of tables) await client.exec(`VACUUM ${vacuumTarget(t)}`);
      return [...tables];
    },
    listen: async (channel, onPayload, onState) => {
      const unlisten = await client.listen(channel, onPayload);
      onState(true);
      return {
        close: async () => {
          onState(false);
          if (!client.closed) await unlisten();
        },
      };
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
  // A dropped connection must not crash the process; the pool replaces it on next use. The
  // pool's 'error' covers idle clients only: a client that is checked out but between queries
  // (inside a transaction, waiting on other work) when the server goes away emits 'error' on
  // itself, and an 'error' without a listener ends the process. Its next query fails instead.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const db = drizzlePg(pool, { schema }) as unknown as Db;
  return {
    kind: 'pg',
    db,
    query: async <T>(stmt: Statement, values: unknown[], tx?: Db) => {
      const target = tx ? (sessionClient(tx) as pg.PoolClient) : pool;
      return (await target.query({ name: stmt.name, text: stmt.text, values })).rows as T[];
    },
    executor: { executeSql: (text, values) => pool.query(text, values as unknown[]) },
    executorFor: (tx) => ({ executeSql: (text, values) => (sessionClient(tx) as pg.PoolClient).query(text, values as unknown[]) }),
    ping: async () => {
      await pool.query('select 1');
    },
    listen: (channel, onPayload, onState) => listenPg(url, channel, onPayload, onState),
    vacuum: async (tables) => {
      const done = await withSessionLock(pool, UPKEEP_LOCK, { wait: false }, async (conn) => {
        if (tables === null) {
          await conn.query('VACUUM (ANALYZE)');
          return ['*'];
        }
        for (const t of tables) await conn.query(`VACUUM ${vacuumTarget(t)}`);
        return [...tables];
      });
      return done === LOCK_TAKEN ? [] : done;
    },
    serialized: (work) => withSessionLock(pool, STARTUP_LOCK, { wait: true }, () => work()),
    migrate: async () => {
      // Several replicas may start at once: one migrates while the others wait, then find nothing to do.
      await withSessionLock(pool, MIGRATION_LOCK, { wait: true }, (conn) => migratePg(drizzlePg(conn, { schema }), { migrationsFolder: MIGRATIONS_DIR }));
    },
    close: async () => {
      await pool.end();
    },
  };
}

const HEARTBEAT_MS = 5000;

/** What withSessionLock answers when `wait: false` and another session holds the lock. */
const LOCK_TAKEN = Symbol('lock taken');

/**
 * Runs `work` while holding a session advisory lock on one pooled connection (given to `work`),
 * so replicas and worker processes take turns; `wait: false` gives up at once (LOCK_TAKEN) when
 * another session holds it.
 */
async function withSessionLock<T>(pool: pg.Pool, key: number, opts: { wait: true }, work: (conn: pg.PoolClient) => Promise<T>): Promise<T>;
async function withSessionLock<T>(pool: pg.Pool, key: number, opts: { wait: false }, work: (conn: pg.PoolClient) => Promise<T>): Promise<T | typeof LOCK_TAKEN>;
async function withSessionLock<T>(
  pool: pg.Pool,
  key: number,
  opts: { wait: boolean },
  work: (conn: pg.PoolClient) => Promise<T>,
): Promise<T | typeof LOCK_TAKEN> {
  const conn = await pool.connect();
  try {
    if (opts.wait) await conn.query('select pg_advisory_lock($1)', [key]);
    else {
      const { rows } = await conn.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [key]);
      if (!rows[0]?.ok) return LOCK_TAKEN;
    }
    try {
      return await work(conn);
    } finally {
      await conn.query('select pg_advisory_unlock($1)', [key]);
    }
  } finally {
    conn.release();
  }
}

/**
 * A connection of its own (a pooled one would be handed back, and LISTEN with it). Lost: the
 * listener is told at once (`onState(false)`) and reconnects after 0.5 s, doubling to 30 s.
 */
async function listenPg(
  url: string,
  channel: string,
  onPayload: (payload: string) => void,
  onState: (listening: boolean) => void,
): Promise<{ close(): Promise<void> }> {
  if (!IDENT.test(channel)) throw new Error(`not a channel name: ${channel}`);
  let closed = false;
  /** The connection in use, and its heartbeat once listening. */
  let current: { client: pg.Client; beat: NodeJS.Timeout | null } | null = null;
  let timer: NodeJS.Timeout | null = null;
  let delayMs = 500;
  let listening = false;
  const state = (on: boolean) => {
    if (on === listening) return;
    listening = on;
    onState(on);
  };
  const retry = () => {
    state(false);
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, delayMs);
    timer.unref();
    delayMs = Math.min(delayMs * 2, 30_000);
  };
  const connect = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, keepAlive: true });
    const conn: { client: pg.Client; beat: NodeJS.Timeout | null } = { client, beat: null };
    current = conn;
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      if (conn.beat) clearInterval(conn.beat);
      if (current === conn) current = null;
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      retry();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (msg) => {
      if (msg.channel === channel) onPayload(msg.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch {
      onLost();
      return;
    }
    if (closed) {
      await client.end().catch(() => {});
      return;
    }
    delayMs = 500;
    state(true);
    // A connection can die without a word (a cable, a firewall): then notifications stop and
    // nothing says so. A query every few seconds notices within HEARTBEAT_MS × 2.
    let inFlight = false;
    conn.beat = setInterval(() => {
      if (lost || inFlight) return;
      inFlight = true;
      let timeout: NodeJS.Timeout | null = null;
      void Promise.race([
        client.query('select 1'),
        new Promise((_, reject) => {
          timeout = setTimeout(() => reject(new Error('listener heartbeat timed out')), HEARTBEAT_MS);
        }),
      ]).then(
        () => {
          inFlight = false;
          if (timeout) clearTimeout(timeout);
        },
        () => {
          inFlight = false;
          onLost();
        },
      );
    }, HEARTBEAT_MS);
    conn.beat.unref();
  };
  await connect();
  return {
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      state(false);
      const conn = current;
      current = null;
      if (conn) {
        if (conn.beat) clearInterval(conn.beat);
        const { client } = conn;
        client.removeAllListeners('end');
        client.removeAllListeners('error');
        client.on('error', () => {});
        await client.end().catch(() => {});
      }
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

/** SQLSTATEs that mean "the server is not there (now)": class 08 (connection), 57P01–57P03 (shutting down, crashed, starting). */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123])$/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
/** What node-postgres throws itself when a connection dies or cannot be had in time. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection terminated unexpectedly|the database system is (shutting down|starting up|in recovery mode)/i;

/**
 * True when an error (or one of its causes: drizzle wraps the driver's error) says the database
 * could not be reached, as opposed to a query that failed. The error handler answers those
 * 503 UPSTREAM_UNAVAILABLE, like any other system that is down.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
  }
  return false;
}
