/**
 * `npx tsx bench/ledger-export.ts [--rows 100000] [--format xlsx|csv] [--db pglite|pg]` — the
 * visit-ledger export of many generated records by the service as its own process (simulated
 * integrations): the export's time, and the process's resident memory, sampled while it runs
 * and its peak (VmHWM) at the end. `--db pg` uses TEST_DATABASE_URL's server (a database of its
 * own, dropped after). A measurement, not a test: bench/RESULTS.md keeps the numbers.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openDatabase } from '../src/db/client.js';
import { generateVisits } from './lib/ledger-data.js';

const { values: args } = parseArgs({
  options: { rows: { type: 'string', default: '100000' }, format: { type: 'string', default: 'xlsx' }, db: { type: 'string', default: 'pglite' } },
});
const ROWS = Number(args.rows);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kb = (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

async function database(): Promise<{ url: string; drop(): Promise<void> }> {
  if (args.db === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'laifang-ledger-bench-'));
    return { url: `pglite://${dir}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const base = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `laifang_ledger_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

async function main(): Promise<void> {
  const db = await database();
  const seeded = await openDatabase(db.url);
  await seeded.migrate();
  let t = performance.now();
  await generateVisits(seeded.db, { count: ROWS, end: Math.floor(Date.now() / 1000) + 86_400, days: 60 });
  await seeded.close();
  console.log(`generated ${ROWS} records in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const port = await freePort();
  const files = mkdtempSync(join(tmpdir(), 'laifang-ledger-files-'));
  const env = { PATH: process.env.PATH, NODE_ENV: 'development', PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: db.url, STORAGE_LOCAL_DIR: files };
  const admin = { ADMIN_USERNAME: 'bench_admin', ADMIN_PASSWORD: 'bench-password-0123' };
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...env, ...admin, LOG_LEVEL: 'warn', RETENTION_DAYS: '36500' },
    stdio: 'inherit',
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 600) throw new Error('the service did not start');
      await sleep(200);
    }
    const login = await (
      await fetch(`${base}/v1/admin/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: admin.ADMIN_USERNAME, password: admin.ADMIN_PASSWORD }),
      })
    ).json();
    const auth = { authorization: `Bearer ${login.data.token}` };
    const rssBefore = kb(proc.pid!, 'VmRSS');
    t = performance.now();
    const made = await (
      await fetch(`${base}/v1/admin/exports`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ format: args.format }),
      })
    ).json();
    let maxRss = 0;
    let view: { status: string; rows_done: number } = { status: 'queued', rows_done: 0 };
    for (;;) {
      maxRss = Math.max(maxRss, kb(proc.pid!, 'VmRSS'));
      view = (await (await fetch(`${base}/v1/admin/exports/${made.data.id}`, { headers: auth })).json()).data;
      if (view.status === 'done' || view.status === 'failed') break;
      await sleep(250);
    }
    const seconds = (performance.now() - t) / 1000;
    const file = Buffer.from(await (await fetch(`${base}/v1/admin/exports/${made.data.id}/file`, { headers: auth })).arrayBuffer());
    const result = {
      db: args.db,
      format: args.format,
      rows: view.rows_done,
      status: view.status,
      export_seconds: Number(seconds.toFixed(1)),
      file_mb: Number((file.length / 1048576).toFixed(1)),
      rss_before_mb: Math.round(rssBefore / 1024),
      rss_max_sampled_mb: Math.round(maxRss / 1024),
      rss_peak_mb: Math.round(kb(proc.pid!, 'VmHWM') / 1024),
    };
    console.log(JSON.stringify(result));
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    rmSync(files, { recursive: true, force: true });
    await db.drop();
  }
}

await main();
