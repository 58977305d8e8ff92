/**
 * Fills a fresh benchmark database with N applications (and their application_people rows).
 *
 *   npx tsx bench/generate.ts 1m                      # → PostgreSQL database laifang_bench_1m (dropped first if it exists)
 *   npx tsx bench/generate.ts 10k --db my_name --seed 7
 *   npx tsx bench/generate.ts 10k --pglite ./data/bench-db   # an embedded (PGlite) data directory instead
 *
 * The database is migrated with the project's own openDatabase(url).migrate(), the secondary
 * indexes and the foreign key of the two tables are dropped, the rows are made by two
 * INSERT … SELECT FROM generate_series statements (bench/lib/dataset.ts), the indexes and the
 * key are re-created from their own catalog definitions, and the tables are VACUUM ANALYZEd
 * (so that autovacuum does not wake up in the middle of a measurement).
 */
import { existsSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openDatabase } from '../src/db/client.js';
import { applicationsInsertSql, datasetShape, helperFunctionSql, peopleInsertSql, type DatasetShape } from './lib/dataset.js';
import { assertDbName, benchDbName, dbUrl, dropDatabase, parseSize, withAdmin } from './lib/db.js';

type Exec = (sql: string) => Promise<Array<Record<string, unknown>>>;

export interface GenerateResult {
  target: string;
  applications: number;
  people: number;
  seconds: Record<string, number>;
  bytes: number | null;
}

async function timed<T>(seconds: Record<string, number>, step: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const out = await fn();
  seconds[step] = Math.round(performance.now() - t) / 1000;
  console.log(`  ${step.padEnd(22)} ${seconds[step]!.toFixed(1)} s`);
  return out;
}

/** Drops, fills and re-creates: the same steps on PostgreSQL and on PGlite. */
async function fill(exec: Exec, shape: DatasetShape, seconds: Record<string, number>, kind: 'pg' | 'pglite'): Promise<number> {
  const tables = `('applications'::regclass, 'application_people'::regclass)`;
  const indexes = (await exec(`select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def
                               from pg_index i where i.indrelid in ${tables} and not i.indisprimary`)) as Array<{ name: string; def: string }>;
  const keys = (await exec(`select conname as name, conrelid::regclass::text as tbl, pg_get_constraintdef(oid) as def
                            from pg_constraint where contype = 'f' and conrelid in ${tables}`)) as Array<{ name: string; tbl: string; def: string }>;
  for (const k of keys) await exec(`alter table ${k.tbl} drop constraint ${k.name}`);
  for (const i of indexes) await exec(`drop index ${i.name}`);
  // The records-cache triggers (migration 0003) would gather millions of phones to say "all":
  // a fresh database has no listener to tell.
  for (const t of ['applications', 'application_people']) await exec(`alter table ${t} disable trigger user`);

  if (kind === 'pg') await exec(`set synchronous_commit = off; set maintenance_work_mem = '1GB'; set work_mem = '256MB'`);
  await exec(helperFunctionSql(shape));
  await timed(seconds, 'insert applications', () => exec(applicationsInsertSql(shape)));
  await timed(seconds, 'insert people', () => exec(peopleInsertSql(shape)));
  await exec(`select setval(pg_get_serial_sequence('applications', 'id'), ${shape.applications})`);
  await timed(seconds, 'create indexes', async () => {
    for (const i of indexes) await exec(i.def);
  });
  await timed(seconds, 'foreign key', async () => {
    for (const k of keys) await exec(`alter table ${k.tbl} add constraint ${k.name} ${k.def}`);
  });
  for (const t of ['applications', 'application_people']) await exec(`alter table ${t} enable trigger user`);
  await timed(seconds, 'vacuum analyze', () => exec('vacuum (analyze) applications, application_people'));
  const [row] = await exec('select count(*)::int as n from application_people');
  return Number(row?.n ?? 0);
}

export async function generate(opts: { applications: number; db?: string; pgliteDir?: string; seed?: number }): Promise<GenerateResult> {
  const shape = datasetShape(opts.applications, opts.seed ?? 42);
  const seconds: Record<string, number> = {};
  const started = performance.now();

  if (opts.pgliteDir) {
    const dir = opts.pgliteDir;
    if (existsSync(dir) && readdirSync(dir).length > 0) throw new Error(`${dir} is not empty: give a new directory`);
    console.log(`Generating ${opts.applications} applications into PGlite ${dir} (seed ${shape.seed})`);
    const database = await timed(seconds, 'open + migrate', async () => {
      const d = await openDatabase(`pglite://${dir}`);
      await d.migrate();
      return d;
    });
    try {
      const exec: Exec = async (sql) => (await database.executor.executeSql(sql)).rows as Array<Record<string, unknown>>;
      const people = await fill(exec, shape, seconds, 'pglite');
      seconds.total = Math.round(performance.now() - started) / 1000;
      return { target: `pglite://${dir}`, applications: opts.applications, people, seconds, bytes: null };
    } finally {
      await database.close();
    }
  }

  const name = opts.db ?? benchDbName(opts.applications);
  assertDbName(name);
  const url = dbUrl(name);
  console.log(`Generating ${opts.applications} applications into ${name} (seed ${shape.seed})`);
  await timed(seconds, 'create + migrate', async () => {
    await dropDatabase(name);
    await withAdmin((c) => c.query(`create database ${name}`));
    const d = await openDatabase(url, { poolSize: 1 });
    try {
      await d.migrate();
    } finally {
      await d.close();
    }
  });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exec: Exec = async (sql) => (await client.query(sql)).rows as Array<Record<string, unknown>>;
    const people = await fill(exec, shape, seconds, 'pg');
    const [size] = await exec(`select pg_database_size(current_database())::bigint as b`);
    seconds.total = Math.round(performance.now() - started) / 1000;
    return { target: name, applications: opts.applications, people, seconds, bytes: Number(size?.b ?? 0) };
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { db: { type: 'string' }, pglite: { type: 'string' }, seed: { type: 'string' } },
  });
  if (positionals.length !== 1) {
    console.error('usage: tsx bench/generate.ts <size: 10k | 1m | 10m | N> [--db NAME] [--seed N] [--pglite DIR]');
    process.exit(2);
  }
  const result = await generate({
    applications: parseSize(positionals[0]!),
    db: values.db,
    pgliteDir: values.pglite,
    seed: values.seed ? Number(values.seed) : undefined,
  });
  const size = result.bytes === null ? '' : `, database ${(result.bytes / 2 ** 30).toFixed(2)} GiB`;
  console.log(`Done: ${result.applications} applications, ${result.people} people rows in ${result.seconds.total} s${size} → ${result.target}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
