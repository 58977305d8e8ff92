import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { anUnboundUser } from '../helpers/factories.js';
import { startHarness, type Harness, type Reply } from '../helpers/harness.js';
import { openApiRoutes, samplePath } from './openapi.js';

/** What @fastify/helmet sets by default (our CSP only widens img-src for avatars). */
const HELMET = {
  'content-security-policy': /default-src 'self'/,
  'cross-origin-opener-policy': /^same-origin$/,
  'cross-origin-resource-policy': /^same-origin$/,
  'origin-agent-cluster': /^\?1$/,
  'referrer-policy': /^no-referrer$/,
  'strict-transport-security': /max-age=\d+/,
  'x-content-type-options': /^nosniff$/,
  'x-dns-prefetch-control': /^off$/,
  'x-download-options': /^noopen$/,
  'x-frame-options': /^SAMEORIGIN$/,
  'x-permitted-cross-domain-policies': /^none$/,
  'x-xss-protection': /^0$/,
};

function expectHelmet(res: Reply, what: string): void {
  for (const [name, pattern] of Object.entries(HELMET)) expect(String(res.headers[name] ?? ''), `${what}: ${name}`).toMatch(pattern);
  expect(res.headers['x-powered-by'], what).toBeUndefined();
}

function expectEnvelope(res: Reply, status: number, error: string): void {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({ code: status, error });
  expect(typeof res.body.err_msg).toBe('string');
  expect(res.body.err_msg.length).toBeGreaterThan(0);
}

describe('headers and limits (default configuration: no CORS origins)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('helmet headers are on every answer: each OpenAPI route without a session, errors, docs, health', async () => {
    const routes = openApiRoutes(h.runtime.app.swagger());
    expect(routes.length).toBeGreaterThanOrEqual(10);
    let answers = 0;
    for (const r of routes) {
      const res = await h.request(r.method, samplePath(r.path), r.method === 'GET' || r.method === 'DELETE' ? {} : { body: {} });
      expectHelmet(res, `${r.method} ${r.path} → ${res.status}`);
      answers++;
    }
    for (const [method, url, opts] of [
      ['GET', '/healthz', {}],
      ['GET', '/readyz', {}],
      ['GET', '/no/such/route', {}],
      ['GET', '/files/avatars/00/missing.png', {}],
      ['GET', '/docs/json', {}],
      ['POST', '/v1/sms/code', { payload: '{bad json', headers: { 'content-type': 'application/json' } }],
    ] as const) {
      expectHelmet(await h.request(method, url, opts), `${method} ${url}`);
      answers++;
    }
    expect(answers).toBe(routes.length + 6);
  });

  it('no CORS header and no preflight when no origin is configured', async () => {
    const res = await h.request('GET', '/v1/subject/purpose', { headers: { origin: 'https://evil.example.com' } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const pre = await h.request('OPTIONS', '/v1/subject', { headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' } });
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect(pre.status).toBe(404);
  });

  it('a body over the limit (64 KiB) is a 400 in the envelope, as the contract has no 413', async () => {
    const { token } = await anUnboundUser(h, 'wx-headers-big');
    const res = await h.request('POST', '/v1/sms/code', {
      token,
      payload: JSON.stringify({ phone: '13900000000', pad: 'x'.repeat(70_000) }),
      headers: { 'content-type': 'application/json' },
    });
    expectEnvelope(res, 400, 'VALIDATION_FAILED');
    expect(res.body.err_msg).toContain('过大');
    expectHelmet(res, 'body too large');
  });

  it('a body that is not JSON is a 400 in the envelope (415 maps to 400)', async () => {
    const { token } = await anUnboundUser(h, 'wx-headers-type');
    const res = await h.request('POST', '/v1/sms/code', {
      token,
      payload: 'phone=13900000000',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectEnvelope(res, 400, 'VALIDATION_FAILED');
    const xml = await h.request('POST', '/v1/sms/code', { token, payload: '<phone/>', headers: { 'content-type': 'text/xml' } });
    expectEnvelope(xml, 400, 'VALIDATION_FAILED');
  });
});

describe('CORS for configured origins only', () => {
  let h: Harness;
  const allowed = 'https://h5.example.com';
  beforeAll(async () => {
    h = await startHarness({ env: { CORS_ORIGINS: `${allowed}, https://admin.example.com` } });
  });
  afterAll(async () => h?.close());

  it('a configured origin gets Access-Control-Allow-Origin, another origin does not', async () => {
    const ok = await h.request('GET', '/v1/subject/purpose', { headers: { origin: allowed } });
    expect(ok.headers['access-control-allow-origin']).toBe(allowed);
    expect(String(ok.headers.vary)).toMatch(/origin/i);
    const other = await h.request('GET', '/v1/subject/purpose', { headers: { origin: 'https://evil.example.com' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    // A look-alike of an allowed origin is another origin.
    const lookalike = await h.request('GET', '/v1/subject/purpose', { headers: { origin: `${allowed}.evil.com` } });
    expect(lookalike.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('a preflight from a configured origin is answered with the methods and headers the pages use', async () => {
    const pre = await h.request('OPTIONS', '/v1/auth/12', {
      headers: { origin: allowed, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(allowed);
    expect(String(pre.headers['access-control-allow-methods'])).toContain('PUT');
    expect(String(pre.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization');
    expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
    const evil = await h.request('OPTIONS', '/v1/auth/12', { headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'PUT' } });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('CORS_ORIGINS must list origins, not URLs with paths or wildcards', () => {
    expect(() => loadConfig({ NODE_ENV: 'test', CORS_ORIGINS: 'https://a.example.com/path' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'test', CORS_ORIGINS: '*' })).toThrow(ConfigError);
    expect(loadConfig({ NODE_ENV: 'test', CORS_ORIGINS: 'https://a.example.com, http://127.0.0.1:5173' }).corsOrigins).toEqual([
      'https://a.example.com',
      'http://127.0.0.1:5173',
    ]);
    expect(loadConfig({ NODE_ENV: 'test' }).corsOrigins).toEqual([]);
  });
});

describe('the per-address rate limit', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { RATE_LIMIT_PER_MINUTE: '5' } });
  });
  afterAll(async () => h?.close());

  it('answers 429 RATE_LIMITED with Retry-After once the address used its minute, before authentication', async () => {
    const statuses: number[] = [];
    let last: Reply | null = null;
    for (let i = 0; i < 8; i++) {
      last = await h.request('GET', '/v1/subject/purpose');
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    expectEnvelope(last!, 429, 'RATE_LIMITED');
    const retryAfter = Number(last!.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expectHelmet(last!, '429');
    // Health checks are never limited (load balancers probe them).
    expect((await h.request('GET', '/healthz')).status).toBe(200);
  });
});
