import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { Database, Db, OpenOptions, Statement } from './client.js';
import { MIGRATIONS_DIR, sessionClient, vacuumTarget } from './driver.js';
import { listenPg } from './listen-pg.js';
import { schema } from './schema.js';

/** Session advisory locks: one process at a time migrates, sets up the queue, vacuums. */
const MIGRATION_LOCK = 0x1af40001;
const STARTUP_LOCK = 0x1af40002;
const UPKEEP_LOCK = 0x1af40003;

/** What withSessionLock answers when `wait: false` and another session holds the lock. */
const LOCK_TAKEN = Symbol('lock taken');

/** PostgreSQL through a pool of `pg` connections. */
export async function openPg(url: string, opts: OpenOptions): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
  // A dropped connection must not crash the process; the pool replaces it on next use. The
  // pool's 'error' covers idle clients only: a client that is checked out but between queries
  // (inside a transaction, waiting on other work) when the server goes away emits 'error' on
  // itself, and an 'error' without a listener ends the process. Its next query fails instead.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const db = drizzle(pool, { schema }) as unknown as Db;
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
    connections: () => ({ max: pool.options.max ?? 10, open: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    listen: (channel, onPayload, onState) => listenPg(url, channel, onPayload, onState),
    vacuum: (tables) => vacuum(pool, tables),
    serialized: (work) => withSessionLock(pool, STARTUP_LOCK, { wait: true }, () => work()),
    migrate: async () => {
      // Several replicas may start at once: one migrates while the others wait, then find nothing to do.
      await withSessionLock(pool, MIGRATION_LOCK, { wait: true }, (conn) => migrate(drizzle(conn, { schema }), { migrationsFolder: MIGRATIONS_DIR }));
    },
    close: async () => {
      await pool.end();
    },
  };
}

/** One replica at a time: the others answer [] at once. */
async function vacuum(pool: pg.Pool, tables: readonly string[] | null): Promise<string[]> {
  const done = await withSessionLock(pool, UPKEEP_LOCK, { wait: false }, async (conn) => {
    if (tables === null) {
      await conn.query('VACUUM (ANALYZE)');
      return ['*'];
    }
    for (const t of tables) await conn.query(`VACUUM ${vacuumTarget(t)}`);
    return [...tables];
  });
  return done === LOCK_TAKEN ? [] : done;
}

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
