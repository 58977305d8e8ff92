import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { startAliyunSmsSimulator } from '../../src/adapters/sms/simulator.js';
import { startWechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';
import { futureWindow, openTestDatabase, STAFF, type Sims } from '../helpers/harness.js';
import { fetchPost, oauthSignIn } from '../helpers/oauth.js';
import { integrationEnv } from '../../src/simulators.js';

/**
 * The service as a real process, killed with SIGKILL the moment it has answered
 * POST /v1/subject (and PUT /v1/auth/{id}), then started again on the same database: every
 * notification of every answered request is delivered, none twice.
 */
const ROUNDS = 2;

let sims: Sims;
let dbUrl: string;
let drop: () => Promise<void>;
let storage: string;
let port: number;
let child: ChildProcess | null = null;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

function env(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: dbUrl,
    SESSION_SECRET: 'crash-test-secret-crash-test-secret-0123456789',
    ...integrationEnv(sims),
    STORAGE_LOCAL_DIR: storage,
    RATE_LIMIT_PER_MINUTE: '0',
    // A job a killed worker had taken is retried after 5 s here (60 s by default).
    NOTIFY_EXPIRE_S: '5',
    NOTIFY_MAINTENANCE_S: '1',
    LOG_LEVEL: 'warn',
  };
}

async function startService(): Promise<void> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child = proc;
  // Generous: a cold tsx start on a loaded two-core machine has taken over 30 s.
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`service exited: ${stderr}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`service not ready in 120 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function kill(): Promise<void> {
  const proc = child!;
  child = null;
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

async function call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function session(openid: string): Promise<string> {
  const res = await oauthSignIn(fetchPost(`http://127.0.0.1:${port}`), sims.oauth, openid);
  return res.body.data.token;
}

async function waitFor(probe: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const [koala, cloud, oauth, sms] = await Promise.all([
    startKoalaSimulator(),
    startWechatCloudSimulator(),
    startWechatOAuthSimulator(),
    startAliyunSmsSimulator({ limits: null }),
  ]);
  sims = { koala, cloud, oauth, sms };
  storage = mkdtempSync(join(tmpdir(), 'laifang-crash-files-'));
  const pgliteDir = mkdtempSync(join(tmpdir(), 'laifang-crash-db-'));
  const db = await openTestDatabase({ pgliteDir });
  await db.database.close();
  dbUrl = db.url;
  drop = async () => {
    await db.drop();
    rmSync(pgliteDir, { recursive: true, force: true });
  };
  port = await freePort();
  cloud.bind('wx-host', STAFF.zhangwei.phone);
  cloud.bind('wx-visitor', '13900000001');
  cloud.bind('wx-companion', '13900000002');
}, 60_000);

afterAll(async () => {
  if (child) await kill();
  await Promise.all(Object.values(sims ?? {}).map((s) => s.close()));
  await drop?.();
  rmSync(storage, { recursive: true, force: true });
});

describe('SIGKILL right after answering', () => {
  it(`delivers every notification exactly once over ${ROUNDS} kill/restart rounds`, async () => {
    let expectedSms = 0;
    let expectedWechat = 0;
    /**
     * A restarted service first sends what the killed one left in the outbox. Those messages are
     * sent, and their outcomes recorded, before the next request, so each kill lands right after
     * an answer and not between an earlier message's send and its record (a message whose
     * provider answered and whose outcome was not yet recorded is sent again, by design:
     * src/jobs/notify-worker.ts). On a loaded machine the kill used to land there now and then.
     * `graceMs`: how long after the last expected message anything still in flight may show up.
     */
    const startAndSettle = async (graceMs = 1000): Promise<void> => {
      await startService();
      await waitFor(
        () => sims.sms.messages().length >= expectedSms && sims.cloud.messages().length >= expectedWechat,
        `${expectedSms} SMS and ${expectedWechat} WeChat messages`,
        60_000,
      );
      await new Promise((r) => setTimeout(r, graceMs));
    };
    for (let round = 0; round < ROUNDS; round++) {
      await startAndSettle();
      const host = await session('wx-host');
      const visitor = await session('wx-visitor');
      // A staff invitation with two companions: 3 SMS, 2 WeChat (the third companion has no WeChat).
      const invite = await call(
        'POST',
        '/v1/subject',
        {
          name: '王五',
          phone: '13900000001',
          interviewee: STAFF.zhangwei.name,
          interviewee_phone: STAFF.zhangwei.phone,
          ...futureWindow(),
          retinues: [
            { name: '赵六', phone: '13900000002' },
            { name: '孙七', phone: '13900000003' },
          ],
        },
        host,
      );
      await kill();
      expect(invite.status).toBe(200);
      expectedSms += 3;
      expectedWechat += 2;

      await startAndSettle();
      // A visitor request (host + proposer told), killed right after it is answered…
      const request = await call(
        'POST',
        '/v1/subject',
        { name: '王五', phone: '13900000001', interviewee: STAFF.zhangwei.name, interviewee_phone: STAFF.zhangwei.phone, ...futureWindow(2) },
        visitor,
      );
      await kill();
      expect(request.status).toBe(200);
      expectedSms += 2;
      expectedWechat += 2;

      // …and its authorization (proposer told), killed right after it is answered.
      await startAndSettle();
      const auth = await call('PUT', `/v1/auth/${request.body.data.id}`, undefined, host);
      await kill();
      expect(auth.status).toBe(200);
      expectedSms += 1;
      expectedWechat += 1;
    }

    // Anything still in flight would show up now: give it a moment, then count exactly.
    await startAndSettle(1500);
    const outIds = sims.sms.messages().map((m) => m.out_id);
    expect(new Set(outIds).size).toBe(outIds.length);
    expect(outIds).toHaveLength(expectedSms);
    expect(sims.cloud.messages()).toHaveLength(expectedWechat);
  }, 240_000);
});
