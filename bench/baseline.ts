/**
 * The baseline the service is measured against: a bare Fastify + pg server answering the
 * query of GET /v1/visit/records (page 1, size 5) over the same table and partial index, for
 * a phone given in the query string — no session, no envelope, no companions, no count.
 *
 *   npx tsx bench/baseline.ts --db laifang_bench_1m [--port 3100]
 *   curl 'http://127.0.0.1:3100/records?phone=15000001234'
 */
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import pg from 'pg';
import { dbUrl } from './lib/db.js';

export const RECORDS_SQL =
  'select a.* from application_people p join applications a on a.id = p.application_id ' +
  'where p.phone = $1 and not p.is_proposer ' +
  'order by p.created_at desc nulls last, p.application_id desc nulls last limit 5';

export interface Baseline {
  url: string;
  close(): Promise<void>;
}

/** Same pool size as the service's openDatabase() default. */
export async function startBaseline(opts: { databaseUrl: string; port?: number; poolSize?: number }): Promise<Baseline> {
  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 10 });
  pool.on('error', () => {});
  const app = Fastify({ logger: false });
  app.get('/records', async (req, reply) => {
    const phone = (req.query as Record<string, unknown>).phone;
    if (typeof phone !== 'string' || phone === '') return reply.code(400).send({ error: 'phone is required' });
    // A named statement: parsed and planned once per connection, like a prepared statement.
    const { rows } = await pool.query({ name: 'records', text: RECORDS_SQL, values: [phone] });
    return rows;
  });
  const address = await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  return {
    url: address.replace('localhost', '127.0.0.1'),
    async close() {
      await app.close();
      await pool.end();
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { db: { type: 'string' }, url: { type: 'string' }, port: { type: 'string' } } });
  const databaseUrl = values.url ?? (values.db ? dbUrl(values.db) : undefined);
  if (!databaseUrl) {
    console.error('usage: tsx bench/baseline.ts --db NAME | --url postgres://… [--port N]');
    process.exit(2);
  }
  const b = await startBaseline({ databaseUrl, port: values.port ? Number(values.port) : 0 });
  console.log(`baseline listening on ${b.url}/records?phone=…`);
  const stop = () => void b.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
