import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as http2Connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { startAliyunSmsSimulator } from '../../src/adapters/sms/simulator.js';
import { startWechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';
import { futureWindow, openTestDatabase, STAFF, type Sims } from '../helpers/harness.js';
import { oauthSignIn, type Post } from '../helpers/oauth.js';
import { freePort, ServiceProcess, serviceEnv, waitUntil } from '../helpers/service-process.js';
import { nginxProgram, ROOT, send, startNginx, type Nginx } from './helpers.js';

/**
 * deploy/nginx/laifang.conf in front of the service as a process, configured as the README's
 * "Deploying" steps configure it (TRUST_PROXY=127.0.0.1 as in deploy/laifang.env.example,
 * PUBLIC_URL on HTTPS, real integrations — here their simulators): TLS and HTTP/2, plain HTTP
 * sent to HTTPS, the hashed assets from disk (gzipped, cached a year) and the rest from the
 * service, the API acceptance through it, and the per-address limits (requests, admin login)
 * keyed on the client nginx saw — never nginx's own address, never a header the client wrote,
 * even one that reaches the service without nginx. Every client here is a loopback address of
 * its own (127.0.0.2, .3, …); nginx reaches the service from 127.0.0.1.
 * The H5 pages in a browser through nginx: nginx-h5.test.ts.
 */

const nginxBin = nginxProgram();
const LIMIT = 5;
const ADMIN = { username: 'ops', password: 'nginx-test-admin-password' };

/** A setting of deploy/laifang.env.example, as the README has the operator install it. */
function exampleSetting(name: string): string {
  const value = new RegExp(`^${name}=(.*)$`, 'm').exec(readFileSync(join(ROOT, 'deploy/laifang.env.example'), 'utf8'))?.[1];
  if (value === undefined) throw new Error(`deploy/laifang.env.example has no ${name}`);
  return value;
}

describe.runIf(nginxBin.state === 'missing-fail')('nginx in front of the service', () => {
  it('needs nginx in CI', () => {
    expect(nginxBin.state, 'CI must install nginx (scripts/ci-deploy-prereqs.sh)').toBe('present');
  });
});

describe.runIf(nginxBin.state === 'present')('nginx + TLS in front of the service (deploy/nginx/laifang.conf)', { timeout: 60_000 }, () => {
  let sims: Sims;
  let service: ServiceProcess;
  let nginx: Nginx;
  const cleanup: Array<() => Promise<void> | void> = [];
  const at = (path: string, o: Parameters<typeof send>[1] & { from: string }) => send(`${nginx.base}${path}`, { ...o, ca: nginx.ca, localAddress: o.from });

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-web.mjs'], { cwd: ROOT, stdio: 'inherit' });
    const [koala, cloud, oauth, sms] = await Promise.all([
      startKoalaSimulator(),
      startWechatCloudSimulator(),
      startWechatOAuthSimulator(),
      startAliyunSmsSimulator({ verificationTemplates: ['SMS_TPL_VERIFICATION_CODE'], limits: null }),
    ]);
    sims = { koala, cloud, oauth, sms };
    cleanup.push(() => Promise.all([koala.close(), cloud.close(), oauth.close(), sms.close()]).then(() => undefined));
    const storageDir = mkdtempSync(join(tmpdir(), 'laifang-nginx-files-'));
    const pgliteDir = mkdtempSync(join(tmpdir(), 'laifang-nginx-db-'));
    const db = await openTestDatabase({ pgliteDir });
    await db.database.close();
    cleanup.push(async () => {
      await db.drop();
      rmSync(pgliteDir, { recursive: true, force: true });
      rmSync(storageDir, { recursive: true, force: true });
    });
    const port = await freePort();
    const httpsPort = await freePort();
    const env = serviceEnv({
      port,
      databaseUrl: db.url,
      sims,
      storageDir,
      extra: {
        TRUST_PROXY: exampleSetting('TRUST_PROXY'),
        RATE_LIMIT_PER_MINUTE: String(LIMIT),
        PUBLIC_URL: `https://127.0.0.1:${httpsPort}`,
        ADMIN_USERNAME: ADMIN.username,
        ADMIN_PASSWORD: ADMIN.password,
      },
    });
    service = new ServiceProcess(port, () => env);
    [, nginx] = await Promise.all([service.start(), startNginx(nginxBin.path!, port, { httpsPort })]);
  }, 180_000);

  afterAll(async () => {
    await service?.stop();
    await nginx?.stop();
    for (const c of cleanup.reverse()) await c();
  });

  it('speaks HTTP/2 over TLS 1.2 or 1.3 with the certificate, and sends plain HTTP to HTTPS', async () => {
    const session = http2Connect(nginx.base, { ca: nginx.ca, servername: 'localhost' });
    try {
      const answer = await new Promise<{ status: number; body: string }>((done, fail) => {
        const req = session.request({ ':path': '/healthz' });
        let status = 0;
        let body = '';
        req.on('response', (h) => (status = Number(h[':status'])));
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => done({ status, body }));
        req.on('error', fail);
        req.end();
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 0, data: { status: 'ok' } });
      expect(session.alpnProtocol).toBe('h2');
      expect(['TLSv1.2', 'TLSv1.3']).toContain((session.socket as import('node:tls').TLSSocket).getProtocol());
    } finally {
      session.close();
    }
    const plain = await send(`http://127.0.0.1:${nginx.httpPort}/h5/?from=qr`, { localAddress: '127.0.0.9' });
    expect(plain.status).toBe(301);
    expect(plain.headers.location).toBe('https://127.0.0.1/h5/?from=qr');
  });

  it('serves the hashed assets from disk, gzipped and cached for a year; the pages from the service', async () => {
    const page = await at('/h5/', { from: '127.0.0.5', headers: { 'accept-encoding': 'gzip' } });
    expect(page.status).toBe(200);
    expect(page.headers['content-encoding']).toBe('gzip');
    expect(page.headers['cache-control']).toBe('no-cache');
    // The service's own headers: the page came from it.
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    const script = /src="(\/h5\/assets\/index-[\w-]+\.js)"/.exec(page.text)?.[1];
    expect(script, page.text).toBeTruthy();
    const asset = await at(script!, { from: '127.0.0.5', headers: { 'accept-encoding': 'gzip' } });
    expect(asset.status).toBe(200);
    expect(asset.headers['content-encoding']).toBe('gzip');
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['x-request-id']).toBeUndefined(); // nginx's, from disk: the service sets one on every answer
    expect(gunzipSync(asset.raw).equals(readFileSync(join(ROOT, 'web/dist', script!.slice('/h5/'.length))))).toBe(true);
    expect(asset.raw.length).toBeLessThan(readFileSync(join(ROOT, 'web/dist', script!.slice('/h5/'.length))).length);
    const admin = await at('/admin/', { from: '127.0.0.5' });
    const adminScript = /src="(\/admin\/assets\/[\w-]+\.js)"/.exec(admin.text)?.[1];
    expect((await at(adminScript!, { from: '127.0.0.5' })).headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('passes a request id through to the service, or gives one', async () => {
    const given = await at('/healthz', { from: '127.0.0.6', headers: { 'x-request-id': 'deploy-check-1' } });
    expect(given.headers['x-request-id']).toBe('deploy-check-1');
    const made = await at('/healthz', { from: '127.0.0.6', headers: { 'x-request-id': 'not a valid id!' } });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('API acceptance: a staff member binds with an SMS code and invites a visitor with two companions; all are told', async () => {
    const from = '127.0.0.2';
    sims.cloud.bind('wx-nginx-visitor', '13900000001');
    sims.cloud.bind('wx-nginx-companion', '13900000002');
    // Through nginx as a browser: the state cookie, WeChat's round trip, the exchange.
    const post: Post = async (path, body, headers) => {
      const a = await at(path, { from, method: 'POST', body: body ?? {}, headers });
      return { status: a.status, body: a.json, setCookie: a.headers['set-cookie'] };
    };
    const session = await oauthSignIn(post, sims.oauth, 'wx-nginx-staff');
    expect(session.status, JSON.stringify(session.body)).toBe(200);
    const token = session.body.data.token as string;
    const auth = { authorization: `Bearer ${token}` };
    expect((await at('/v1/sms/code', { from, headers: auth, body: { phone: STAFF.zhangwei.phone } })).status).toBe(200);
    const bound = await at('/v1/subject/binding', {
      from,
      headers: auth,
      body: { name: STAFF.zhangwei.name, phone: STAFF.zhangwei.phone, sms_code: sims.sms.lastCodeFor(STAFF.zhangwei.phone) },
    });
    expect(bound.status, bound.text).toBe(200);
    const apply = await at('/v1/subject', {
      from,
      headers: auth,
      body: {
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
    });
    expect(apply.status, apply.text).toBe(200);
    expect(apply.json.data).toMatchObject({ is_auth: 1, proposer: STAFF.zhangwei.phone });
    const told = () => sims.sms.messages().filter((m) => m.phone.startsWith('139'));
    await waitUntil(() => told().length === 3 && sims.cloud.messages().length === 2, '3 SMS and 2 WeChat messages');
    // The landed avatar, on the public HTTPS address, through nginx.
    const avatar = new URL(bound.json.data.avatar as string);
    expect(avatar.origin).toBe(nginx.base);
    const picture = await at(avatar.pathname, { from: '127.0.0.7' });
    expect(picture.status).toBe(200);
    expect(picture.headers['content-type']).toMatch(/^image\//);
  });

  it(`limits each real client to ${LIMIT} requests a minute, whatever X-Forwarded-For it sends`, async () => {
    const probe = (from: string, forged: string) =>
      at('/v1/subject/binding', { from, headers: { 'x-forwarded-for': forged, 'x-real-ip': forged, forwarded: `for=${forged}` } });
    const statuses: number[] = [];
    // Each request pretends to be another client: none gets a bucket of its own.
    for (let i = 1; i <= LIMIT + 1; i++) statuses.push((await probe('127.0.0.3', `203.0.113.${i}`)).status);
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(401));
    expect(statuses[LIMIT]).toBe(429);
    // Another client (its own address) is not limited: the service does not see nginx's address.
    const other = await probe('127.0.0.4', '203.0.113.1');
    expect(other.status).toBe(401);
    expect(other.json).toMatchObject({ code: 401 });
  });

  it('believes X-Forwarded-For only from nginx: a client reaching the service itself is limited by its own address', async () => {
    const direct = (forged: string) =>
      send(`${service.url}/v1/subject/binding`, { localAddress: '127.0.0.14', headers: { 'x-forwarded-for': forged, forwarded: `for=${forged}` } });
    const statuses: number[] = [];
    for (let i = 1; i <= LIMIT + 1; i++) statuses.push((await direct(`203.0.113.${100 + i}`)).status);
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(401));
    expect(statuses[LIMIT]).toBe(429);
  });

  it('the admin login counts the client nginx saw, not the address it forges', async () => {
    const from = '127.0.0.13';
    const login = await at('/v1/admin/session', { from, headers: { 'x-forwarded-for': '198.51.100.7' }, body: ADMIN });
    expect(login.status, login.text).toBe(200);
    const token = login.json.data.token as string;
    const audit = await at('/v1/audit?action=admin.login', { from, headers: { authorization: `Bearer ${token}` } });
    expect(audit.status, audit.text).toBe(200);
    expect(audit.json.data.map((e: { detail: { address: string } }) => e.detail.address)).toEqual([from]);
  });

  it('never serves /metrics to the internet, however the path is spelt; the service itself still answers it', async () => {
    for (const path of ['/metrics', '/metrics?x=1', '//metrics', '/%6Detrics', '/./metrics']) {
      const res = await at(path, { from: '127.0.0.8' });
      expect({ path, status: res.status, leaked: res.text.includes('laifang_') }).toEqual({ path, status: 403, leaked: false });
    }
    expect((await send(`http://127.0.0.1:${service.port}/metrics`)).text).toContain('laifang_http_request_duration_seconds');
  });

  it('serves the official account’s MP_verify file from the folder WeChat’s check reads', async () => {
    writeFileSync(join(nginx.verifyDir, 'MP_verify_AbC123xyz.txt'), 'AbC123xyz');
    const res = await at('/MP_verify_AbC123xyz.txt', { from: '127.0.0.8' });
    expect({ status: res.status, text: res.text }).toEqual({ status: 200, text: 'AbC123xyz' });
    expect((await at('/MP_verify_../../etc/passwd.txt', { from: '127.0.0.8' })).status).not.toBe(200);
  });

  it('stops large bodies at nginx, lets the service answer the rest, and answers JSON while the service is down', async () => {
    // 100 KiB: past the service's 64 KiB, inside nginx's 128 KiB: the service answers, in its own words.
    const mid = await at('/v1/session', { from: '127.0.0.10', raw: Buffer.from(JSON.stringify({ code: 'x'.repeat(100 * 1024) })) });
    expect(mid.status).toBe(400);
    expect(mid.json).toMatchObject({ code: 400, error: 'VALIDATION_FAILED', err_msg: '请求体过大（body）' });
    const big = await at('/v1/session', { from: '127.0.0.11', raw: Buffer.alloc(300 * 1024, 0x20) });
    expect(big.status).toBe(413);
    expect(big.headers['content-type']).toMatch(/text\/html/); // nginx's, the service never saw it

    await service.stop();
    const down = await at('/v1/subject/binding', { from: '127.0.0.12' });
    expect(down.status).toBe(503);
    expect(down.headers['retry-after']).toBe('5');
    expect(down.json).toEqual({ code: 503, err_msg: '服务暂时不可用，请稍后再试', error: 'UPSTREAM_UNAVAILABLE' });
    expect(nginx.errorLog()).not.toMatch(/\[(emerg|alert|crit)\]/);
  });
});
