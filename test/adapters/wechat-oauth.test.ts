import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createWechatOAuthClient } from '../../src/adapters/wechat-oauth/client.js';
import {
  DEFAULT_WECHAT_APP_ID,
  DEFAULT_WECHAT_APP_SECRET,
  startWechatOAuthSimulator,
  type WechatOAuthSimulator,
} from '../../src/adapters/wechat-oauth/simulator.js';
import { AppError, UpstreamError } from '../../src/errors.js';
import { captureLogger, failure as failureOf } from '../helpers/upstream.js';

const failure = (p: Promise<unknown>) => failureOf(p, AppError);

let clock = Date.now();
let sim: WechatOAuthSimulator;
const log = captureLogger();
const client = (over: { appId?: string; appSecret?: string; timeoutMs?: number; apiUrl?: string } = {}) =>
  createWechatOAuthClient({ apiUrl: sim.url, appId: sim.appId, appSecret: sim.appSecret, timeoutMs: 2000, logger: log.logger, ...over });

beforeAll(async () => {
  sim = await startWechatOAuthSimulator({ now: () => clock });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.reset();
  clock = Date.now();
  log.lines.length = 0;
});

describe('code exchange', () => {
  it('exchanges a code for the openid with the documented query', async () => {
    expect(sim.appId).toBe(DEFAULT_WECHAT_APP_ID);
    expect(sim.appSecret).toBe(DEFAULT_WECHAT_APP_SECRET);
    const code = sim.issueCode('o-alice');
    expect(await client().exchangeCode(code)).toEqual({ openid: 'o-alice' });
    expect(sim.server.received[0]).toMatchObject({
      method: 'GET',
      path: '/sns/oauth2/access_token',
      query: { appid: DEFAULT_WECHAT_APP_ID, secret: DEFAULT_WECHAT_APP_SECRET, code, grant_type: 'authorization_code' },
    });
  });

  it('a code works once: the second time is UNAUTHENTICATED (40163)', async () => {
    const code = sim.issueCode('o-alice');
    await client().exchangeCode(code);
    const err = await failure(client().exchangeCode(code));
    expect(err).not.toBeInstanceOf(UpstreamError);
    expect(err.code).toBe('UNAUTHENTICATED');
    expect(err.detail).toContain('40163');
  });

  it('an unknown code is UNAUTHENTICATED (40029)', async () => {
    const err = await failure(client().exchangeCode('no-such-code'));
    expect(err).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect(err.detail).toContain('40029');
  });

  it('an empty code is UNAUTHENTICATED without asking WeChat', async () => {
    expect(await failure(client().exchangeCode(' '))).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(sim.server.received).toHaveLength(0);
  });

  it('a missing code (41008) is UNAUTHENTICATED', async () => {
    sim.server.setFault({ status: 200, body: '{"errcode":41008,"errmsg":"missing code"}', times: 1 });
    expect(await failure(client().exchangeCode('x'))).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('codes expire after 5 minutes', async () => {
    const code = sim.issueCode('o-alice');
    clock += 5 * 60 * 1000 + 1;
    const err = await failure(client().exchangeCode(code));
    expect(err).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(err.detail).toContain('42003');
  });

  it('issues codes over HTTP for demos and browser tests', async () => {
    const res = await fetch(`${sim.url}/__sim/oauth/codes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ openid: 'o-bob' }),
    });
    const { code } = (await res.json()) as { code: string };
    expect(await client().exchangeCode(code)).toEqual({ openid: 'o-bob' });
    const bad = await fetch(`${sim.url}/__sim/oauth/codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(bad.status).toBe(400);
  });
});

describe('app credentials and WeChat failures', () => {
  it('a wrong secret is a permanent UPSTREAM_FAILED (40125), and the code stays unspent', async () => {
    const code = sim.issueCode('o-alice');
    const err = (await failure(client({ appSecret: 'wrong-secret' }).exchangeCode(code))) as UpstreamError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false, providerCode: '40125', system: 'wechat-oauth' });
    expect(await client().exchangeCode(code)).toEqual({ openid: 'o-alice' });
  });

  it('a wrong appid is a permanent UPSTREAM_FAILED (40013)', async () => {
    const err = (await failure(client({ appId: 'wx-other' }).exchangeCode(sim.issueCode('o')))) as UpstreamError;
    expect(err).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false, providerCode: '40013' });
  });

  it('40001 (invalid credential) is ours to fix, not the user: UPSTREAM_FAILED', async () => {
    sim.server.setFault({ status: 200, body: '{"errcode":40001,"errmsg":"invalid credential"}', times: 1 });
    expect(await failure(client().exchangeCode('x'))).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false, providerCode: '40001' });
  });

  it('errcode -1 (system busy) is transient', async () => {
    sim.server.setFault({ status: 200, body: '{"errcode":-1,"errmsg":"system error"}', times: 1 });
    expect(await failure(client().exchangeCode('x'))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', transient: true, providerCode: '-1' });
  });

  it.each([
    [500, 'UPSTREAM_FAILED', true],
    [502, 'UPSTREAM_UNAVAILABLE', true],
    [503, 'UPSTREAM_UNAVAILABLE', true],
    [400, 'UPSTREAM_FAILED', false],
  ] as const)('HTTP %i → %s (transient %s)', async (status, code, transient) => {
    sim.server.setFault({ status, times: 1 });
    expect(await failure(client().exchangeCode('x'))).toMatchObject({ code, transient });
  });

  it('no answer in time, a dropped connection and a refused one are UPSTREAM_UNAVAILABLE', async () => {
    sim.server.setFault({ delayMs: 400, times: 1 });
    expect(await failure(client({ timeoutMs: 100 }).exchangeCode('x'))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', transient: true });
    sim.server.setFault({ status: 0, times: 1 });
    expect(await failure(client().exchangeCode('x'))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', transient: true });
    const gone = await startWechatOAuthSimulator();
    await gone.close();
    expect(await failure(client({ apiUrl: gone.url }).exchangeCode('x'))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
  });

  it('a non-JSON answer or one without openid is UPSTREAM_FAILED', async () => {
    sim.server.setFault({ status: 200, body: '<html>oops</html>', contentType: 'text/html', times: 1 });
    expect(await failure(client().exchangeCode('x'))).toMatchObject({ code: 'UPSTREAM_FAILED' });
    sim.server.setFault({ status: 200, body: '{"access_token":"t","expires_in":7200}', times: 1 });
    expect(await failure(client().exchangeCode('x'))).toMatchObject({ code: 'UPSTREAM_FAILED' });
  });

  it('never puts the secret or the code in logs or error details', async () => {
    const secret = 'super-secret-value';
    const code = sim.issueCode('o-alice');
    const errs = [await failure(client({ appSecret: secret }).exchangeCode(code))];
    sim.server.setFault({ status: 0, times: 1 });
    errs.push(await failure(client({ appSecret: secret }).exchangeCode(code)));
    sim.server.setFault({ delayMs: 300, times: 1 });
    errs.push(await failure(client({ appSecret: secret, timeoutMs: 50 }).exchangeCode(code)));
    await client().exchangeCode(code);
    errs.push(await failure(client().exchangeCode(code)));
    const text = log.lines.join('\n') + errs.map((e) => `${e.message} ${e.detail ?? ''}`).join('\n');
    expect(text).not.toContain(secret);
    expect(text).not.toContain(DEFAULT_WECHAT_APP_SECRET);
    expect(text).not.toContain(code);
  });
});
