/**
 * `npx tsx bench/turnstile.ts [--checks 10000] [--pg postgres://postgres@127.0.0.1:5432/postgres]`
 * — the turnstile's latency (p99 under 5 ms over 10,000 checks in a row).
 *
 * Starts the service in simulated mode (in-process simulators) on a fresh embedded database
 * (or, with --pg, a fresh PostgreSQL database created beside the given one and dropped after), signs a visitor in at a
 * kiosk through the API, then sends POST /v1/visit/qrcode sequentially over one keep-alive
 * socket, as one reader at a door would, and reports the client-side latency of each answer
 * (device authentication + pass lookup + JSON, the whole HTTP round trip), and the CPU time
 * per check of the whole process (service + this client), which a busy machine disturbs less
 * than the wall clock. Bounded by --checks (plus 500 warm-up checks that are not counted).
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { createRuntime, type Runtime } from '../src/runtime.js';

const { values } = parseArgs({ options: { checks: { type: 'string', default: '10000' }, pg: { type: 'string' } } });
const checks = Number(values.checks);
const dir = mkdtempSync(join(tmpdir(), 'laifang-bench-turnstile-'));
const pgName = `laifang_bench_turnstile_${process.pid}`;
async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: values.pg });
  await c.connect();
  await c.query(sql);
  await c.end();
}
let databaseUrl = `pglite://${join(dir, 'db')}`;
if (values.pg) {
  await admin(`create database ${pgName}`);
  const u = new URL(values.pg);
  u.pathname = `/${pgName}`;
  databaseUrl = u.toString();
}
const config = loadConfig({
  NODE_ENV: 'development',
  DATABASE_URL: databaseUrl,
  STORAGE_LOCAL_DIR: join(dir, 'files'),
  RATE_LIMIT_PER_MINUTE: '0',
  LOG_LEVEL: 'warn',
});
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let port = 0;
let runtime: Runtime | null = null;

/** The fields this script reads from the answers it gets. */
interface Answer {
  status: number;
  body: { data?: { token?: string; qrcode?: string; retinues?: Array<{ qrcode: string }> } };
}

function call(method: string, path: string, body: unknown, authorization?: string): Promise<Answer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...(authorization ? { authorization } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as Answer['body'] }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

try {
  runtime = await createRuntime(config, { seedDemoBindings: true });
  await runtime.app.listen({ host: '127.0.0.1', port: 0 });
  port = (runtime.app.server.address() as { port: number }).port;
  const host = await call('POST', '/v1/session/dev', { weixinUserId: 'demo-staff-zhangwei' });
  const start = Math.floor(Date.now() / 1000);
  const invited = await call(
    'POST',
    '/v1/subject',
    {
      name: '王五',
      phone: '13900000001',
      interviewee: '张伟',
      interviewee_phone: '13800000001',
      start_time: start,
      end_time: start + 7200,
      retinues: [{ name: '赵六', phone: '13900000002' }],
    },
    `Bearer ${host.body.data?.token ?? ''}`,
  );
  if (invited.status !== 200) throw new Error(`invitation failed: ${JSON.stringify(invited.body)}`);
  const kiosk = await runtime.devices.register({ name: 'bench kiosk', kind: 'kiosk' });
  const turnstile = await runtime.devices.register({ name: 'bench turnstile', kind: 'turnstile' });
  const signed = await call('POST', '/v1/visit/signin', { phone: '13900000001' }, `Device ${kiosk.token}`);
  if (signed.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(signed.body)}`);
  const passes = [signed.body.data?.qrcode ?? '', signed.body.data?.retinues?.[0]?.qrcode ?? ''];

  const auth = `Device ${turnstile.token}`;
  for (let i = 0; i < 500; i++) await call('POST', '/v1/visit/qrcode', { qrcode: passes[i % 2] }, auth);
  const ms: number[] = [];
  const cpuBefore = process.cpuUsage();
  const began = performance.now();
  for (let i = 0; i < checks; i++) {
    const t = performance.now();
    const res = await call('POST', '/v1/visit/qrcode', { qrcode: passes[i % 2] }, auth);
    ms.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`check ${i} answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
  const seconds = (performance.now() - began) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMsPerCheck = (cpu.user + cpu.system) / 1000 / checks;
  ms.sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]!.toFixed(2);
  console.log(
    `turnstile (${runtime.database.kind}): ${checks} sequential checks in ${seconds.toFixed(1)} s — p50 ${q(50)} ms, p95 ${q(95)} ms, p99 ${q(99)} ms, max ${ms.at(-1)!.toFixed(2)} ms; CPU ${cpuMsPerCheck.toFixed(2)} ms per check`,
  );
} finally {
  agent.destroy();
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
  if (values.pg) await admin(`drop database if exists ${pgName} with (force)`);
}
