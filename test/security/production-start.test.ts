import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { startAliyunSmsSimulator } from '../../src/adapters/sms/simulator.js';
import { startWechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';
import { loadConfig, randomSecret } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createRuntime, DEMO_ADMIN, type Runtime } from '../../src/runtime.js';
import { integrationEnv } from '../../src/simulators.js';
import { openTestDatabase, startHarness, type Sims } from '../helpers/harness.js';

/**
 * What a production start accepts. A data directory first used by `npm start` (simulated, with
 * the demo admin) and then configured for real: the demo credential never logs in, the
 * configured first admin is created; /docs is not served; a setting that weakens the service is
 * said in the log; and a configuration that must not run ends the process with the message.
 */

const OPS = { username: 'ops', password: 'ops-password-2026' };

/** A logger whose lines the test reads. */
function capturedLogger(): { logger: ReturnType<typeof createLogger>; lines: () => Array<{ level: number; msg: string }> } {
  const raw: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void raw.push(line) });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

async function inject(runtime: Runtime, method: 'GET' | 'POST' | 'PUT', url: string, o: { body?: object; token?: string } = {}) {
  const res = await runtime.app.inject({
    method,
    url,
    headers: o.token ? { authorization: `Bearer ${o.token}` } : {},
    ...(o.body ? { payload: o.body } : {}),
  });
  return { status: res.statusCode, body: String(res.headers['content-type']).includes('json') ? res.json() : res.body };
}

describe('a data directory first used simulated, then started in production', { timeout: 120_000 }, () => {
  let sims: Sims;
  const cleanup: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    const [koala, cloud, oauth, sms] = await Promise.all([
      startKoalaSimulator(),
      startWechatCloudSimulator(),
      startWechatOAuthSimulator(),
      startAliyunSmsSimulator({ verificationTemplates: ['SMS_TPL_VERIFICATION_CODE'] }),
    ]);
    sims = { koala, cloud, oauth, sms };
    cleanup.push(() => Promise.all([koala.close(), cloud.close(), oauth.close(), sms.close()]).then(() => undefined));
  });

  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  /**
   * `npm start` (simulated, the demo data) on a new database, `simulated` run on it, then the
   * same database started with NODE_ENV=production and the real integrations (their simulators).
   */
  async function simulatedThenProduction(simulated: (r: Runtime) => Promise<void>, env: Record<string, string>) {
    const files = mkdtempSync(join(tmpdir(), 'laifang-prod-files-'));
    const db = await openTestDatabase();
    cleanup.push(async () => {
      await db.drop();
      rmSync(files, { recursive: true, force: true });
    });
    const base = { DATABASE_URL: db.url, STORAGE_LOCAL_DIR: files, LOG_LEVEL: 'silent' };
    const demo = await createRuntime(loadConfig({ ...base, NODE_ENV: 'development' }), { database: db.database, seedDemoBindings: true });
    try {
      expect((await inject(demo, 'POST', '/v1/admin/session', { body: DEMO_ADMIN })).status).toBe(200);
      await simulated(demo);
    } finally {
      await demo.close();
    }
    const log = capturedLogger();
    const config = loadConfig({ ...base, ...integrationEnv(sims), NODE_ENV: 'production', SESSION_SECRET: randomSecret(), LOG_LEVEL: 'info', ...env });
    expect(config.simulated).toBe(false);
    const runtime = await createRuntime(config, { logger: log.logger, seedDemoBindings: true });
    cleanup.push(() => runtime.close());
    return { runtime, lines: log.lines };
  }

  it('deletes the demo admin, creates ADMIN_USERNAME, audits it; /docs is off; RATE_LIMIT_PER_MINUTE=0 is said', async () => {
    const { runtime, lines } = await simulatedThenProduction(async () => {}, {
      ADMIN_USERNAME: OPS.username,
      ADMIN_PASSWORD: OPS.password,
      RATE_LIMIT_PER_MINUTE: '0',
    });
    const demo = await inject(runtime, 'POST', '/v1/admin/session', { body: DEMO_ADMIN });
    expect(demo).toMatchObject({ status: 401, body: { code: 401, error: 'UNAUTHENTICATED', err_msg: '用户名或密码错误' } });
    const ops = await inject(runtime, 'POST', '/v1/admin/session', { body: OPS });
    expect(ops.status, JSON.stringify(ops.body)).toBe(200);
    const token = ops.body.data.token as string;
    const removed = await inject(runtime, 'GET', '/v1/audit?action=admin.delete', { token });
    expect(removed.body.data).toEqual([
      expect.objectContaining({ actor_kind: 'system', actor_id: 'config', target_type: 'admin', detail: expect.objectContaining({ username: 'admin' }) }),
    ]);
    const created = await inject(runtime, 'GET', '/v1/audit?action=admin.create', { token });
    expect(created.body.data.map((e: { detail: object }) => e.detail)).toEqual([
      { username: OPS.username, source: 'ADMIN_USERNAME' },
      { username: 'admin', source: 'demo' },
    ]);
    const logged = lines();
    expect(logged).toContainEqual(expect.objectContaining({ level: 50, msg: expect.stringMatching(/^the demo admin of simulated mode was in this database/) }));
    expect(logged).toContainEqual(expect.objectContaining({ level: 40, msg: expect.stringMatching(/^RATE_LIMIT_PER_MINUTE=0: requests are not limited/) }));
    expect(JSON.stringify(logged)).not.toContain(DEMO_ADMIN.password);
    // No Swagger UI, no OpenAPI document in production (API_DOCS unset).
    expect((await inject(runtime, 'GET', '/docs')).status).toBe(404);
    expect((await inject(runtime, 'GET', '/docs/json')).status).toBe(404);
  });

  it('with no ADMIN_USERNAME the demo admin is still deleted, and the log says how to create one', async () => {
    const { runtime, lines } = await simulatedThenProduction(async () => {}, {});
    expect((await inject(runtime, 'POST', '/v1/admin/session', { body: DEMO_ADMIN })).status).toBe(401);
    expect(await runtime.admins.ensureFirst({ username: 'probe', password: 'probe-password' })).toBe(true); // none was left
    expect(lines()).toContainEqual(
      expect.objectContaining({ level: 50, msg: expect.stringMatching(/^no admin can log in: set ADMIN_USERNAME and ADMIN_PASSWORD/) }),
    );
  });

  it('keeps an admin named admin whose password was changed, and says that ADMIN_USERNAME was not created', async () => {
    const changed = { username: 'admin', password: 'changed-by-the-operator' };
    const { runtime, lines } = await simulatedThenProduction(
      async (demo) => {
        const { body } = await inject(demo, 'POST', '/v1/admin/session', { body: DEMO_ADMIN });
        const res = await inject(demo, 'PUT', '/v1/admin/password', {
          token: body.data.token,
          body: { old_password: DEMO_ADMIN.password, new_password: changed.password },
        });
        expect(res.status).toBe(200);
      },
      { ADMIN_USERNAME: OPS.username, ADMIN_PASSWORD: OPS.password },
    );
    expect((await inject(runtime, 'POST', '/v1/admin/session', { body: changed })).status).toBe(200);
    expect((await inject(runtime, 'POST', '/v1/admin/session', { body: OPS })).status).toBe(401);
    expect(lines()).toContainEqual(
      expect.objectContaining({ level: 40, username: OPS.username, msg: expect.stringMatching(/^ADMIN_USERNAME is not created/) }),
    );
  });
});

describe('API_DOCS', { timeout: 60_000 }, () => {
  it('off: no /docs nor /docs/json, while app.swagger() (npm run gen:api) still describes every route', async () => {
    const h = await startHarness({ env: { API_DOCS: 'false' } });
    try {
      expect((await h.request('GET', '/docs/')).status).toBe(404);
      expect((await h.request('GET', '/docs/json')).status).toBe(404);
      const doc = h.runtime.app.swagger() as { paths: Record<string, unknown> };
      expect(Object.keys(doc.paths)).toContain('/v1/admin/session');
    } finally {
      await h.close();
    }
  });
});

describe('a production start that must not run', { timeout: 60_000 }, () => {
  it('ends the process with every reason and how to fix it', async () => {
    const env = {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      ...integrationEnvFor(),
      SESSION_SECRET: 'a'.repeat(64),
      TRUST_PROXY: 'true',
      BIND_VERIFY_PHONE: 'false',
      DATABASE_URL: 'pglite://memory',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A start that is accepted never exits: it is ended, and the test fails.
    const accepted = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(accepted);
    expect(code, `the start was not refused: ${stderr}`).toBe(1);
    expect(stderr).toContain('Laifang cannot start: the configuration is not valid.');
    expect(stderr).toMatch(/SESSION_SECRET is too weak to sign sessions with \(it uses only 1 different characters\): .*openssl rand -hex 32/);
    expect(stderr).toMatch(/TRUST_PROXY=true would trust every hop, .*TRUST_PROXY=127\.0\.0\.1 for nginx on this machine/);
    expect(stderr).toMatch(/BIND_VERIFY_PHONE=false is refused in production/);
    expect(stderr).not.toContain('a'.repeat(64));
  });
});

/** The integration variables with addresses nothing listens on: the start must stop before calling them. */
function integrationEnvFor(): Record<string, string> {
  const nowhere = 'http://127.0.0.1:9';
  return integrationEnv({
    koala: { url: nowhere, username: 'u', password: 'p' },
    cloud: { url: nowhere },
    oauth: { url: nowhere, appId: 'wx', appSecret: 's' },
    sms: { url: nowhere, accessKeyId: 'ak', accessKeySecret: 'sk' },
  });
}
