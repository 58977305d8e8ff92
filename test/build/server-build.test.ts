import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ADMIN } from '../../src/runtime.js';
import { testDbKind } from '../helpers/harness.js';
import { freePort } from '../helpers/service-process.js';

/**
 * `npm start` runs the compiled service (scripts/build-server.mjs: src/ → dist/server/, run by
 * plain node). Here the build goes to a directory of its own and the bundle is started as
 * `npm start` starts it, with nothing configured (simulated, embedded PGlite) on a fresh data
 * directory: it must find its migrations, the H5 pages and its lazily loaded chunks.
 * Not about the database kind: runs in the PGlite project only.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
// Two levels below the repository, as dist/server is: the bundles resolve ../../web/dist/ from
// themselves (the build script checks every import.meta.url-relative path against that).
const OUT = join(REPO, 'dist', `build-test-${process.pid}-${Date.now().toString(36)}`);
const JOURNAL = join(REPO, 'src', 'db', 'migrations', 'meta', '_journal.json');

let work: string;
let port: number;
let child: ChildProcess | null = null;
let stdout = '';
let stderr = '';
let exited: Promise<number | string | null>;
let buildLog = '';

const base = () => `http://127.0.0.1:${port}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stopService(): Promise<number | string | null> {
  if (!child) return Promise.resolve(null);
  const proc = child;
  child = null;
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  const kill = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  return exited.finally(() => clearTimeout(kill));
}

describe.runIf(testDbKind() === 'pglite')('the compiled service (scripts/build-server.mjs)', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'laifang-build-test-'));
    // The H5 pages, so that serving them from the bundle is checked too (a no-op when fresh).
    execFileSync(process.execPath, ['scripts/build-web.mjs'], { cwd: REPO, stdio: 'inherit' });
    buildLog = execFileSync(process.execPath, ['scripts/build-server.mjs', '--out', OUT], {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });

    port = await freePort();
    // Not in the repository: a developer's .env (read from the working directory) stays out of it.
    child = spawn(process.execPath, ['--enable-source-maps', join(OUT, 'main.js')], {
      cwd: work,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: work,
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: `pglite://${join(work, 'db')}`,
        STORAGE_LOCAL_DIR: join(work, 'files'),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = child;
    proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal)));

    // A fresh PGlite directory: initdb and every migration, on a possibly busy machine.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`the bundle exited while starting (${proc.exitCode ?? proc.signalCode}):\n${stdout}\n${stderr}`);
      const ok = await fetch(`${base()}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`the bundle was not ready within 60 s:\n${stdout}\n${stderr}`);
      await sleep(200);
    }
  }, 180_000);

  afterAll(async () => {
    await stopService();
    rmSync(OUT, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('is built into the output directory: the entry points, separate source maps and the migrations', () => {
    expect(buildLog).toMatch(/Server built in/);
    for (const name of ['main', 'admin-cli', 'migrate-cli']) {
      expect(existsSync(join(OUT, `${name}.js`)), name).toBe(true);
      expect(readFileSync(join(OUT, `${name}.js`), 'utf8')).toMatch(new RegExp(`//# sourceMappingURL=${name}\\.js\\.map\\s*$`));
      const map = JSON.parse(readFileSync(join(OUT, `${name}.js.map`), 'utf8')) as { sources: string[] };
      expect(map.sources.some((s) => s.includes('src/'))).toBe(true);
    }
    expect(readdirSync(join(OUT, 'migrations')).sort()).toEqual(readdirSync(join(REPO, 'src', 'db', 'migrations')).sort());
    // The dependencies are loaded from node_modules, not bundled.
    expect(readFileSync(join(OUT, 'main.js'), 'utf8')).toMatch(/from "fastify"/);
  });

  it('a second run finds the output fresh and builds nothing', () => {
    const again = execFileSync(process.execPath, ['scripts/build-server.mjs', '--out', OUT], { cwd: REPO, encoding: 'utf8' });
    expect(again).toContain('up to date');
  });

  it('starts as `npm start` does: prints its URLs, answers /healthz and /readyz', async () => {
    expect(stdout).toContain(`Laifang (来访) is listening on http://127.0.0.1:${port}`);
    expect(stdout).toContain('SIMULATED mode');
    expect(stdout).not.toContain('not built');
    const health = await fetch(`${base()}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ code: 0, data: { status: 'ok' } });
    expect((await fetch(`${base()}/readyz`)).status).toBe(200);
  });

  it('has a migrated database: the demo admin signs in', async () => {
    const res = await fetch(`${base()}/v1/admin/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: DEMO_ADMIN.username, password: DEMO_ADMIN.password }),
    });
    const body = (await res.json()) as { code: number; data?: { token?: string } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.data?.token).toMatch(/\S/);
  });

  it('serves the H5 pages and the admin console from web/dist', async () => {
    const h5 = await fetch(`${base()}/h5/`);
    expect(h5.status).toBe(200);
    expect(await h5.text()).toContain('<div id="app"></div>');
    expect((await fetch(`${base()}/admin/`)).status).toBe(200);
  });

  it('loads a lazily imported chunk: the first SMS loads the Aliyun client', async () => {
    const session = await fetch(`${base()}/v1/session/dev`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ weixinUserId: 'build-test-visitor' }),
    });
    expect(session.status).toBe(200);
    const token = ((await session.json()) as { data: { token: string } }).data.token;
    const phone = '13900000871';
    const sent = await fetch(`${base()}/v1/sms/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ phone }),
    });
    expect(sent.status, await sent.clone().text()).toBe(200);
    const smsUrl = /Aliyun SMS simulator:\s+(http:\/\/\S+)/.exec(stdout)?.[1];
    expect(smsUrl).toBeDefined();
    const messages = (await (await fetch(`${smsUrl}/__sim/sms/messages`)).json()) as Array<{ phone: string }>;
    expect(messages.map((m) => m.phone)).toContain(phone);
  });

  it('stops on SIGTERM, and every migration of src/ is recorded as applied', async () => {
    expect(await stopService()).toBe(0);
    const journal = JSON.parse(readFileSync(JOURNAL, 'utf8')) as { entries: unknown[] };
    const db = new PGlite(join(work, 'db'));
    try {
      const res = await db.query<{ n: number }>('select count(*)::int as n from drizzle.__drizzle_migrations');
      expect(res.rows[0]?.n).toBe(journal.entries.length);
    } finally {
      await db.close();
    }
  }, 60_000);
});
