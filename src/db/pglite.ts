import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import type { Database, Db, Statement } from './client.js';
import { MIGRATIONS_DIR, sessionClient, vacuumTarget } from './driver.js';
import { schema } from './schema.js';

/** The part of PGlite (or of one of its transactions) the executors use. */
interface Runner {
  query(t: string, v?: unknown[]): Promise<{ rows: unknown[] }>;
  exec(t: string): Promise<Array<{ rows: unknown[] }>>;
}

/** pg-boss sends multi-statement scripts without parameters; PGlite runs those with exec(). */
async function run(q: Runner, text: string, values?: unknown[]): Promise<{ rows: unknown[] }> {
  if (!values || values.length === 0) {
    const results = await q.exec(text);
    return results[results.length - 1] ?? { rows: [] };
  }
  return q.query(text, values);
}

/** The embedded database: a directory, or memory (`''` or `memory`). */
export async function openPglite(location: string): Promise<Database> {
  const inMemory = location === '' || location === 'memory';
  if (!inMemory) mkdirSync(location, { recursive: true });
  // Embedded mode serves one site from one process: PGlite's default 128 MB of shared buffers
  // is memory the process holds for data the OS caches anyway (RSS stays under 300 MB).
  const client = new PGlite(inMemory ? undefined : location, { startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'] });
  await client.waitReady;
  const use = countUse(client);
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    kind: 'pglite',
    db,
    // PGlite runs in this process: there is no round trip to save by naming a statement.
    query: async <T>(stmt: Statement, values: unknown[], tx?: Db) => {
      const target = (tx ? sessionClient(tx) : client) as Pick<PGlite, 'query'>;
      return (await target.query<T>(stmt.text, values)).rows;
    },
    executor: { executeSql: (text, values) => run(client, text, values) },
    executorFor: (tx) => ({ executeSql: (text, values) => run(sessionClient(tx) as Runner, text, values) }),
    ping: async () => {
      await client.query('select 1');
    },
    connections: () => ({ max: 1, open: 1, idle: use.inFlight > 0 ? 0 : 1, waiting: Math.max(0, use.inFlight - 1) }),
    // One process: nothing to take turns with.
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
      await migrate(db as never, { migrationsFolder: MIGRATIONS_DIR });
    },
    close: async () => {
      if (!client.closed) await client.close();
    },
  };
}

/**
 * PGlite is one connection that runs one statement or transaction at a time: counting the calls
 * in flight on it says whether it is busy and how much work waits for it (the metrics' "pool").
 * Its transactions run their statements through private methods, so a transaction counts once.
 */
function countUse(client: PGlite): { inFlight: number } {
  const use = { inFlight: 0 };
  const methods = client as unknown as Record<'query' | 'exec' | 'transaction', (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['query', 'exec', 'transaction'] as const) {
    const original = methods[name].bind(client);
    methods[name] = async (...args: unknown[]) => {
      use.inFlight++;
      try {
        return await original(...args);
      } finally {
        use.inFlight--;
      }
    };
  }
  return use;
}
