import pg from 'pg';

/** The server the benchmarks create their databases on (127.0.0.1 only). */
export const ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** "10k" → 10000, "1m" → 1000000, "2500" → 2500. */
export function parseSize(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(raw.trim());
  if (!m) throw new Error(`size ${JSON.stringify(raw)}: expected a number like 10k, 1m or 25000`);
  const n = Number(m[1]) * (m[2]?.toLowerCase() === 'k' ? 1e3 : m[2]?.toLowerCase() === 'm' ? 1e6 : 1);
  if (!Number.isInteger(n) || n < 100) throw new Error(`size ${raw}: at least 100 applications`);
  return n;
}

/** 10000 → "10k", 1000000 → "1m". */
export function sizeLabel(n: number): string {
  if (n % 1e6 === 0) return `${n / 1e6}m`;
  if (n % 1e3 === 0) return `${n / 1e3}k`;
  return String(n);
}

export function benchDbName(n: number): string {
  return `laifang_bench_${sizeLabel(n)}`;
}

export function dbUrl(name: string, admin = ADMIN_URL): string {
  const u = new URL(admin);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) throw new Error(`benchmarks only use a PostgreSQL on this machine, not ${u.hostname}`);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>, admin = ADMIN_URL): Promise<T> {
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export function assertDbName(name: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`database name ${JSON.stringify(name)}: lower-case letters, digits and _ only`);
}

export async function dropDatabase(name: string): Promise<void> {
  assertDbName(name);
  await withAdmin((c) => c.query(`drop database if exists ${name} with (force)`));
}

export async function databaseExists(name: string): Promise<boolean> {
  return withAdmin(async (c) => (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1);
}
