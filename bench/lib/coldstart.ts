/**
 * Embedded mode: how long what `npm start` runs (the compiled service, `node
 * --enable-source-maps dist/server/main.js`, built by scripts/build-server.mjs) takes from spawn
 * to GET /readyz 200 on an existing PGlite data directory, and how much memory it holds; and
 * the same from the TypeScript sources through tsx (`npm run dev`), for comparison.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
import { exchangeCode } from './sign-in.js';
import { memoryOf } from './proc.js';
import { integrationEnv } from '../../src/simulators.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PROBE = fileURLToPath(new URL('./probe.ts', import.meta.url));
const TSX = ['--import', 'tsx', 'src/main.ts'];

/** The node arguments of package.json's `start` script ("node --enable-source-maps dist/server/main.js"). */
function npmStartArgs(): string[] {
  const start = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? '';
  const [cmd, ...args] = start.trim().split(/\s+/);
  if (cmd !== 'node' || args.length === 0) throw new Error(`package.json's start script is not "node …": ${start}`);
  return args;
}

/** Runs bench/lib/probe.ts and reads the time and memory it reports. */
function probe(args: string[]): Promise<{ ms: number; rssMb: number; peakMb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
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
  /**
   * As `npm start` runs it (compiled, plain node): integrations: like a deployment beside Koala;
   * simulated: nothing set. no-srcmaps: integrations, compiled, without --enable-source-maps
   * (what the source maps cost). tsx: integrations from the TypeScript sources through tsx
   * (`npm run dev`, and `npm start` before it ran compiled code).
   */
  mode: 'integrations' | 'simulated' | 'no-srcmaps' | 'tsx';
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

async function startService(env: Record<string, string>, args: string[]): Promise<Started> {
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
      // The generated records span a year: the retention sweep would delete most of them.
      RETENTION_DAYS: '36500',
      // Dispatch and apply runs send thousands of SMS an hour to made-up numbers (the SMS caps).
      SMS_GLOBAL_PER_HOUR: '10000000',
      SMS_PER_PHONE_PER_HOUR: '100000',
      SMS_PER_PHONE_PER_DAY: '1000000',
    };

    // What `npm start` runs first (prestart): a no-op when dist/server is newer than src/.
    execFileSync(process.execPath, [join(REPO, 'scripts', 'build-server.mjs')], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
    const compiled = npmStartArgs();
    const withoutSourceMaps = compiled.filter((a) => a !== '--enable-source-maps');
    const modes = [
      { mode: 'integrations', env: integrations, args: compiled },
      { mode: 'simulated', env: base, args: compiled },
      { mode: 'no-srcmaps', env: integrations, args: withoutSourceMaps },
      { mode: 'tsx', env: integrations, args: TSX },
    ] as const;

    // The first start after generating warms the file cache (and tsx's transpile cache); not counted.
    await (await startService(integrations, TSX)).stop();
    await (await startService(integrations, compiled)).stop();

    // Round by round, each way once per round: a machine that slows down over the run (another
    // benchmark starting) weighs on every way alike.
    const runs: ColdStartRun[] = [];
    let afterLoad: ColdStartResult['afterLoad'] = null;
    for (let i = 0; i < opts.runs; i++) {
      for (const { mode, env, args } of modes) {
        const s = await startService(env, [...args]);
        const mem = memoryOf(s.pid);
        runs.push({ mode, healthzMs: Math.round(s.healthzMs), readyMs: Math.round(s.readyMs), ...mem });
        if (mode === 'integrations' && i === opts.runs - 1 && opts.loadSeconds > 0) {
          const phone = hostPhone(0);
          cloud.bind('bench-embedded', phone);
          const token = await exchangeCode(s.url, oauth.issueCode('bench-embedded'));
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
    // Grouped by way, as the report reads them.
    runs.sort((a, b) => modes.findIndex((m) => m.mode === a.mode) - modes.findIndex((m) => m.mode === b.mode));

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
