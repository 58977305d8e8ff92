/**
 * Embedded mode: how long `node --import tsx src/main.ts` takes from spawn to GET /readyz 200
 * on an existing PGlite data directory, and how much memory it holds.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { startAliyunSmsSimulator } from '../../src/adapters/sms/simulator.js';
import { startWechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';
import { randomSecret } from '../../src/config.js';
import { generate } from '../generate.js';
import { hostPhone } from './dataset.js';
import { runLoad, type LoadResult } from './load.js';
import { memoryOf } from './proc.js';
import { integrationEnv } from '../../src/simulators.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PROBE = fileURLToPath(new URL('./probe.ts', import.meta.url));

/** Runs bench/lib/probe.ts and reads the time and memory it reports. */
function probe(args: string[]): Promise<{ ms: number; rssMb: number; peakMb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`probe ${args.join(' ')} exited ${code}`));
      const m = JSON.parse(out) as { rssMb: number; peakMb: number; atMs: number };
      resolve({ ms: Math.round(m.atMs), rssMb: m.rssMb, peakMb: m.peakMb });
    });
  });
}

export interface ColdStartRun {
  /** integrations: like a deployment beside Koala; simulated: `npm start` with nothing set; precompiled: integrations, from an esbuild bundle run by plain node (bench only, to size the tsx share). */
  mode: 'integrations' | 'simulated' | 'precompiled';
  healthzMs: number;
  readyMs: number;
  rssMb: number;
  peakMb: number;
}

export interface ColdStartResult {
  applications: number;
  generateSeconds: number;
  runs: ColdStartRun[];
  /** Pieces measured alone, for the diagnosis: a bare node + tsx, and PGlite opening the same directory. */
  probes: Array<{ what: string; ms: number; rssMb: number; peakMb: number }>;
  /** Memory after a short load on GET /v1/visit/records (integrations mode). */
  afterLoad: { rssMb: number; peakMb: number; load: LoadResult } | null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, deadlineMs: number, exited: () => string | null): Promise<number> {
  const t0 = performance.now();
  const until = t0 + deadlineMs;
  let healthz = 0;
  for (;;) {
    const gone = exited();
    if (gone !== null) throw new Error(`service exited before it was ready: ${gone}`);
    try {
      const res = await fetch(`${url}/${healthz ? 'readyz' : 'healthz'}`, { signal: AbortSignal.timeout(500) });
      await res.arrayBuffer();
      if (res.status === 200 && !healthz) healthz = performance.now() - t0;
      else if (res.status === 200) return healthz;
    } catch {
      /* not listening yet */
    }
    if (performance.now() > until) throw new Error(`not ready within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Started {
  url: string;
  pid: number;
  readyMs: number;
  /** From spawn; the caller adds the time spawn itself took. */
  healthzMs: number;
  stop(): Promise<void>;
}

async function startService(env: Record<string, string>, args = ['--import', 'tsx', 'src/main.ts']): Promise<Started> {
  const port = await freePort();
  const fullEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env };
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: REPO, env: fullEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let exit: string | null = null;
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exit = `${code ?? signal} ${stderr.slice(-2000)}`;
      r();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const spawned = performance.now() - t0;
  let healthzMs: number;
  try {
    healthzMs = spawned + (await waitReady(url, 60_000, () => exit));
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const readyMs = performance.now() - t0;
  return {
    url,
    pid: child.pid!,
    readyMs,
    healthzMs,
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function measureColdStart(opts: { runs: number; applications: number; loadSeconds: number }): Promise<ColdStartResult> {
  const work = mkdtempSync(join(tmpdir(), 'laifang-bench-embedded-'));
  const dbDir = join(work, 'db');
  const [koala, cloud, oauth, sms] = await Promise.all([
    startKoalaSimulator(),
    startWechatCloudSimulator(),
    startWechatOAuthSimulator(),
    startAliyunSmsSimulator({ verificationTemplates: ['SMS_TPL_VERIFICATION_CODE'], limits: null }),
  ]);
  try {
    const gen = await generate({ applications: opts.applications, pgliteDir: dbDir });
    const base = { DATABASE_URL: `pglite://${dbDir}`, STORAGE_LOCAL_DIR: join(work, 'files') };
    const integrations: Record<string, string> = {
      ...base,
      NODE_ENV: 'production',
      SESSION_SECRET: randomSecret(),
      ...integrationEnv({ koala, cloud, oauth, sms }),
      RATE_LIMIT_PER_MINUTE: '0',
      // The generated records span a year: the retention sweep (issue 6) would delete most of them.
      RETENTION_DAYS: '36500',
      // Dispatch and apply runs send thousands of SMS an hour to made-up numbers (issue 6 caps).
      SMS_GLOBAL_PER_HOUR: '10000000',
      SMS_PER_PHONE_PER_HOUR: '100000',
      SMS_PER_PHONE_PER_DAY: '1000000',
    };

    // The first start after generating also warms tsx's transpile cache; it is not counted.
    await (await startService(integrations)).stop();

    const runs: ColdStartRun[] = [];
    let afterLoad: ColdStartResult['afterLoad'] = null;
    for (const mode of ['integrations', 'simulated'] as const) {
      for (let i = 0; i < opts.runs; i++) {
        const s = await startService(mode === 'integrations' ? integrations : base);
        const mem = memoryOf(s.pid);
        runs.push({ mode, healthzMs: Math.round(s.healthzMs), readyMs: Math.round(s.readyMs), ...mem });
        if (mode === 'integrations' && i === opts.runs - 1 && opts.loadSeconds > 0) {
          const phone = hostPhone(0);
          cloud.bind('bench-embedded', phone);
          const res = await fetch(`${s.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: oauth.issueCode('bench-embedded') }) });
          const token = ((await res.json()) as { data: { token: string } }).data.token;
          const load = await runLoad({
            name: 'embedded GET /v1/visit/records',
            url: s.url,
            serverPid: s.pid,
            connections: 10,
            durationSeconds: opts.loadSeconds,
            requests: [{ method: 'GET', path: `/v1/visit/records?phone=${phone}&page=1&size=5`, headers: { authorization: `Bearer ${token}` } }],
          });
          afterLoad = { ...memoryOf(s.pid), load };
        }
        await s.stop();
      }
    }
    // The same entry point bundled ahead of time (dependencies left in node_modules), run by
    // plain node: how much of the start is tsx transpiling and resolving at run time.
    const dist = join(REPO, 'bench', 'out', 'dist');
    rmSync(dist, { recursive: true, force: true });
    execFileSync(join(REPO, 'node_modules', '.bin', 'esbuild'), ['src/main.ts', '--bundle', '--platform=node', '--format=esm', '--packages=external', `--outfile=${join(dist, 'main.mjs')}`, '--log-level=warning'], { cwd: REPO });
    cpSync(join(REPO, 'src', 'db', 'migrations'), join(dist, 'migrations'), { recursive: true });
    for (let i = 0; i < opts.runs; i++) {
      const s = await startService(integrations, [join(dist, 'main.mjs')]);
      runs.push({ mode: 'precompiled', healthzMs: Math.round(s.healthzMs), readyMs: Math.round(s.readyMs), ...memoryOf(s.pid) });
      await s.stop();
    }
    rmSync(dist, { recursive: true, force: true });

    const probes = [
      { what: 'probe: node --import tsx, nothing loaded', ...(await probe(['--import', 'tsx', PROBE, 'none'])) },
      { what: 'probe: node --import tsx, src/ modules imported', ...(await probe(['--import', 'tsx', PROBE, 'modules'])) },
      { what: 'probe: + PGlite opened on the data directory', ...(await probe(['--import', 'tsx', PROBE, `pglite://${dbDir}`])) },
    ];
    return { applications: opts.applications, generateSeconds: gen.seconds.total ?? 0, runs, afterLoad, probes };
  } finally {
    await Promise.all([koala.close(), cloud.close(), oauth.close(), sms.close()]);
    rmSync(work, { recursive: true, force: true });
  }
}
