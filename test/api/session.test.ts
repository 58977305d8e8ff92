import { createHmac } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness, type Reply } from '../helpers/harness.js';
import { startRound } from '../helpers/oauth.js';

/** api-contract.md §2 (identity), §1/§6 (envelopes). */

const TTL = 3600;
let offset = 0;
const now = () => Date.now() + offset;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ now, env: { SESSION_TTL: String(TTL) } });
});
afterAll(async () => {
  await h?.close();
});

/** The statuses of the §6 catalogue, with the machine codes each may carry. */
const CATALOGUE: Record<number, string[]> = {
  400: ['VALIDATION_FAILED', 'SMS_CODE_INVALID'],
  401: ['UNAUTHENTICATED'],
  403: ['FORBIDDEN', 'NOT_PROPOSER', 'NOT_BOUND'],
  404: ['NOT_BOUND', 'NOT_FOUND', 'STAFF_NOT_FOUND'],
  409: ['CONFLICT'],
  429: ['RATE_LIMITED'],
  500: ['INTERNAL'],
  502: ['UPSTREAM_FAILED'],
  503: ['UPSTREAM_UNAVAILABLE'],
};

/** A failure exactly as §1 says: `{code, err_msg, error}`, code = HTTP status, from the catalogue, with a request id. */
function expectFailure(res: Reply, status: number, error: string): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { code: status, error } });
  expect(Object.keys(res.body).sort()).toEqual(['code', 'err_msg', 'error']);
  expect(typeof res.body.err_msg).toBe('string');
  expect(res.body.err_msg.length).toBeGreaterThan(0);
  expect(CATALOGUE[status]).toContain(error);
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  expect(res.headers['x-request-id']).toEqual(expect.any(String));
  if (status >= 500) expectNoInternals(res);
}

/** 5xx bodies are generic: no stack, no SQL, no upstream address or file path. */
function expectNoInternals(res: Reply): void {
  const text = JSON.stringify(res.body);
  expect(text).not.toMatch(/\bat .+:\d+|\.ts\b|\.js\b|node_modules|Error:|stack|select |insert |relation|sms_codes|127\.0\.0\.1|localhost|ECONN|errcode/i);
}

function forge(payload: unknown, secret: string): string {
  const key = createHmac('sha256', secret).update('laifang/session/v1').digest();
  const p = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `v1.${p}.${createHmac('sha256', key).update(p).digest('base64url')}`;
}

const SECRET = 'test-secret-test-secret-test-secret-0123456789';

/** POST /v1/session as a browser that started its own OAuth round (its state cookie and state). */
async function signIn(code: string): Promise<Reply> {
  const round = await startRound(h.post);
  return h.request('POST', '/v1/session', { body: { code, state: round.state }, headers: { cookie: round.cookie } });
}

describe('POST /v1/session', () => {
  it('exchanges a fresh OAuth code for a session: token, expires_at, weixinUserId', async () => {
    const code = h.sims.oauth.issueCode('wx-session-1');
    const before = Math.floor(now() / 1000);
    const res = await signIn(code);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 0, err_msg: '', data: { token: expect.any(String), expires_at: expect.any(Number), weixinUserId: 'wx-session-1' } });
    expect(Number.isInteger(res.body.data.expires_at)).toBe(true);
    expect(res.body.data.expires_at).toBeGreaterThanOrEqual(before + TTL);
    expect(res.body.data.expires_at).toBeLessThanOrEqual(Math.floor(now() / 1000) + TTL);
    // The code went through WeChat's endpoint with our app's credentials.
    const call = h.sims.oauth.server.received.at(-1)!;
    expect(call).toMatchObject({
      path: '/sns/oauth2/access_token',
      query: { appid: h.sims.oauth.appId, secret: h.sims.oauth.appSecret, code, grant_type: 'authorization_code' },
    });
    // The token is a session.
    const me = await h.request('GET', '/v1/visitor/binding', { token: res.body.data.token });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ code: 0, err_msg: '', data: {} });
  });

  it('a code works once: the second exchange is 401 UNAUTHENTICATED', async () => {
    const code = h.sims.oauth.issueCode('wx-session-2');
    expect((await signIn(code)).status).toBe(200);
    expectFailure(await signIn(code), 401, 'UNAUTHENTICATED');
  });

  it('a code works once here even if the OAuth endpoint would take it again', async () => {
    // An endpoint (or proxy) that answers every exchange of this code with the same openid.
    const lenient = JSON.stringify({ access_token: 'AT', expires_in: 7200, openid: 'wx-lenient', scope: 'snsapi_base' });
    h.sims.oauth.server.setFault({ status: 200, body: lenient, times: 2, path: '/sns/oauth2/access_token' });
    const first = await signIn('reused-code');
    expect(first.status).toBe(200);
    expect(first.body.data.weixinUserId).toBe('wx-lenient');
    const second = await signIn('reused-code');
    expect(second.status).toBe(401);
    expect(second.body).toMatchObject({ code: 401, error: 'UNAUTHENTICATED' });
  });

  it('a code WeChat does not know is 401 UNAUTHENTICATED', async () => {
    expectFailure(await signIn('no-such-code'), 401, 'UNAUTHENTICATED');
  });

  it('a missing or malformed code is 400 naming `code`', async () => {
    for (const body of [
      { state: '' },
      { code: { a: 1 }, state: '' },
      { code: ['a', 'b'], state: '' },
      { code: '', state: '' },
      { code: 'x'.repeat(600), state: '' },
      { weixinUserId: 'wx-any', state: '' },
    ]) {
      const res = await h.request('POST', '/v1/session', { body });
      expect([body, res.status, res.body.error]).toEqual([body, 400, 'VALIDATION_FAILED']);
      expectFailure(res, 400, 'VALIDATION_FAILED');
      expect(res.body.err_msg).toContain('code');
    }
    const res = await h.request('POST', '/v1/session', { payload: '{"code": ', headers: { 'content-type': 'application/json' } });
    expectFailure(res, 400, 'VALIDATION_FAILED');
  });

  it('WeChat OAuth not answering is 503; answering with an error is 502; busy is 503', async () => {
    const oauth = h.sims.oauth;
    const code = oauth.issueCode('wx-session-3');

    oauth.server.setFault({ status: 0, times: 1 });
    expectFailure(await signIn(code), 503, 'UPSTREAM_UNAVAILABLE');
    oauth.server.setFault({ status: 503, times: 1 });
    expectFailure(await signIn(code), 503, 'UPSTREAM_UNAVAILABLE');
    oauth.server.setFault({ status: 500, times: 1 });
    expectFailure(await signIn(code), 502, 'UPSTREAM_FAILED');
    oauth.server.setFault({ status: 200, times: 1, body: JSON.stringify({ errcode: -1, errmsg: 'system error, rid: 1-2' }) });
    expectFailure(await signIn(code), 503, 'UPSTREAM_UNAVAILABLE');
    oauth.server.setFault({ status: 200, times: 1, body: JSON.stringify({ errcode: 40125, errmsg: 'invalid appsecret, rid: 1-2' }) });
    expectFailure(await signIn(code), 502, 'UPSTREAM_FAILED');
    oauth.server.setFault({ status: 200, times: 1, body: '<html>gateway</html>', contentType: 'text/html' });
    expectFailure(await signIn(code), 502, 'UPSTREAM_FAILED');

    // None of those reached WeChat's code check: the code still works.
    const res = await signIn(code);
    expect(res.status).toBe(200);
    expect(res.body.data.weixinUserId).toBe('wx-session-3');
  });

  it('POST /v1/session/dev does not exist outside simulated mode: 404 NOT_FOUND before authentication', async () => {
    expectFailure(await h.request('POST', '/v1/session/dev', { body: { weixinUserId: 'wx-anyone' } }), 404, 'NOT_FOUND');
    expectFailure(await h.request('POST', '/v1/session/dev', { body: { weixinUserId: 'wx-anyone' }, token: 'garbage' }), 404, 'NOT_FOUND');
    const token = await h.session('wx-session-dev');
    expectFailure(await h.request('POST', '/v1/session/dev', { body: { weixinUserId: 'wx-anyone' }, token }), 404, 'NOT_FOUND');
    expectFailure(await h.request('GET', '/v1/session/dev', { token }), 404, 'NOT_FOUND');
  });
});

describe('Bearer sessions', () => {
  const guarded: Array<[string, string, unknown?]> = [
    ['GET', '/v1/subject/binding'],
    ['POST', '/v1/subject/binding', { name: '张伟', phone: '13800000001' }],
    ['GET', '/v1/visitor/binding'],
    ['POST', '/v1/visitor/binding', { phone: '13900000001' }],
    ['DELETE', '/v1/subject/binding/wx-someone'],
    ['GET', '/v1/wechat/is_binding'],
    ['POST', '/v1/sms/code', { phone: '13900000001' }],
  ];

  it('no, garbage, tampered or foreign Authorization is 401 UNAUTHENTICATED on every /v1 route of §3.0–3.6', async () => {
    const good = await h.session('wx-bearer');
    const [, payload, mac] = good.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub: string; exp: number };
    const otherPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'wx-victim' })).toString('base64url');
    const headers: Array<Record<string, string>> = [
      {},
      { authorization: '' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      { authorization: `Token ${good}` },
      { authorization: good },
      { authorization: 'Bearer garbage' },
      { authorization: 'Bearer v1.e30.AAAA' },
      { authorization: `Bearer ${good}x` },
      { authorization: `Bearer v1.${otherPayload}.${mac}` },
      { authorization: `Bearer v2.${payload}.${mac}` },
      { authorization: `Bearer ${forge({ sub: 'wx-victim', exp: claims.exp }, 'another-secret-another-secret-another-secret')}` },
      { authorization: `Bearer ${forge({ sub: '', exp: claims.exp }, SECRET)}` },
      { authorization: `Bearer ${forge({ sub: 'wx-victim', exp: String(claims.exp) }, SECRET)}` },
      { authorization: `Bearer ${forge({ sub: 'wx-victim' }, SECRET)}` },
      { authorization: `Bearer ${good} ${good}` },
    ];
    for (const [method, url, body] of guarded) {
      for (const hd of headers) {
        const res = await h.request(method, url, { headers: hd, body });
        try {
          expectFailure(res, 401, 'UNAUTHENTICATED');
        } catch (err) {
          throw new Error(`${method} ${url} with ${JSON.stringify(hd).slice(0, 80)}: ${res.status} ${JSON.stringify(res.body)}\n${String(err)}`);
        }
      }
    }
    // The forged-with-our-secret token is accepted (proves the forging helper signs like the service).
    const forged = forge({ sub: 'wx-forged', exp: claims.exp }, SECRET);
    expect((await h.request('GET', '/v1/visitor/binding', { token: forged })).status).toBe(200);
    // And the scheme is case-insensitive, as HTTP says.
    expect((await h.request('GET', '/v1/visitor/binding', { headers: { authorization: `bearer ${good}` } })).status).toBe(200);
  });

  it('an expired session is 401 (SESSION_TTL): expires_at is when', async () => {
    const code = h.sims.oauth.issueCode('wx-expiring');
    const { body } = await signIn(code);
    const { token, expires_at: expiresAt } = body.data as { token: string; expires_at: number };
    const saved = offset;
    try {
      offset = expiresAt * 1000 - Date.now() - 2000; // 2 s before expires_at
      expect((await h.request('GET', '/v1/visitor/binding', { token })).status).toBe(200);
      offset = expiresAt * 1000 - Date.now() + 1000; // just after
      expectFailure(await h.request('GET', '/v1/visitor/binding', { token }), 401, 'UNAUTHENTICATED');
      expectFailure(await h.request('POST', '/v1/sms/code', { token, body: { phone: '13900000001' } }), 401, 'UNAUTHENTICATED');
    } finally {
      offset = saved;
    }
  });
});

describe('routes, order of checks and caller parameters', () => {
  it('an unknown route is 404 NOT_FOUND before any authentication', async () => {
    const cases: Array<[string, string, Record<string, string>?, string?]> = [
      ['GET', '/v1/nope'],
      ['GET', '/v1/nope', { authorization: 'Bearer garbage' }],
      ['POST', '/v1/nope', { 'content-type': 'application/json' }, '{"broken": '],
      ['POST', '/v1/nope', { 'content-type': 'text/plain', authorization: 'Bearer garbage' }, 'hello'],
      ['POST', '/v1/nope', { 'content-type': 'application/xml' }, '<a/>'],
      ['POST', '/v1/nope', { 'content-type': 'application/json' }, JSON.stringify({ a: 'x'.repeat(70_000) })],
      ['POST', '/v1/session/dev', { 'content-type': 'application/json' }, '{"weixinUserId": '],
      ['PUT', '/v1/session', { 'content-type': 'application/json' }, '{}'],
      ['GET', '/v1/session'],
      ['PATCH', '/v1/subject/binding', { authorization: 'Bearer garbage' }],
      ['GET', '/v1/subject/binding/extra/segments'],
      ['GET', '/v2/wechat/binding?weixinUserId=x'],
      ['GET', '/'],
    ];
    for (const [method, url, headers, payload] of cases) {
      const res = await h.request(method, url, { headers, payload });
      try {
        expectFailure(res, 404, 'NOT_FOUND');
      } catch (err) {
        throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(res.body)}\n${String(err)}`);
      }
    }
  });

  it('checks run route → session (401) → caller parameters (403) → body validation (400)', async () => {
    const me = 'wx-order';
    const token = await h.session(me);
    // POST /v1/subject/binding: a foreign weixinUserId and an invalid body.
    const bad = { weixinUserId: 'wx-other', name: '', phone: 'not-a-phone', sms_code: 12 };
    expectFailure(await h.request('POST', '/v1/subject/binding', { body: bad }), 401, 'UNAUTHENTICATED');
    expectFailure(await h.request('POST', '/v1/subject/binding', { body: bad, token }), 403, 'FORBIDDEN');
    const noName = await h.request('POST', '/v1/subject/binding', { body: { weixinUserId: me, phone: '13800000001' }, token });
    expectFailure(noName, 400, 'VALIDATION_FAILED');
    expect(noName.body.err_msg).toContain('name');
    const badPhone = await h.request('POST', '/v1/subject/binding', { body: { name: '张伟', phone: '12345' }, token });
    expectFailure(badPhone, 400, 'VALIDATION_FAILED');
    expect(badPhone.body.err_msg).toContain('phone');

    // POST /v1/visitor/binding, same order.
    expectFailure(await h.request('POST', '/v1/visitor/binding', { body: { weixinUserId: 'wx-other' } }), 401, 'UNAUTHENTICATED');
    expectFailure(await h.request('POST', '/v1/visitor/binding', { body: { weixinUserId: 'wx-other' }, token }), 403, 'FORBIDDEN');
    const noPhone = await h.request('POST', '/v1/visitor/binding', { body: { weixinUserId: me }, token });
    expectFailure(noPhone, 400, 'VALIDATION_FAILED');
    expect(noPhone.body.err_msg).toContain('phone');

    // Malformed JSON: the session is still checked first.
    const broken = { 'content-type': 'application/json' };
    expectFailure(await h.request('POST', '/v1/visitor/binding', { headers: broken, payload: '{"phone": ' }), 401, 'UNAUTHENTICATED');
    expectFailure(await h.request('POST', '/v1/visitor/binding', { headers: broken, payload: '{"phone": ', token }), 400, 'VALIDATION_FAILED');

    // POST /v1/sms/code: session, then the body.
    expectFailure(await h.request('POST', '/v1/sms/code', { body: {} }), 401, 'UNAUTHENTICATED');
    const noSmsPhone = await h.request('POST', '/v1/sms/code', { body: {}, token });
    expectFailure(noSmsPhone, 400, 'VALIDATION_FAILED');
    expect(noSmsPhone.body.err_msg).toContain('phone');

    // Query and path parameters.
    expectFailure(await h.request('GET', '/v1/subject/binding?weixinUserId=wx-other'), 401, 'UNAUTHENTICATED');
    expectFailure(await h.request('DELETE', '/v1/subject/binding/wx-other'), 401, 'UNAUTHENTICATED');
  });

  it("weixinUserId (query, body or path) other than the session's is 403 FORBIDDEN; the same or omitted is fine", async () => {
    const me = 'wx-caller';
    const token = await h.session(me);
    const foreign: Array<[string, string, unknown?]> = [
      ['GET', '/v1/subject/binding?weixinUserId=wx-other'],
      ['GET', '/v1/visitor/binding?weixinUserId=wx-other'],
      ['GET', '/v1/wechat/is_binding?weixinUserId=wx-other'],
      ['GET', `/v1/visitor/binding?weixinUserId=${me}&weixinUserId=wx-other`],
      ['GET', `/v1/visitor/binding?weixinUserId=${me.toUpperCase()}`],
      ['POST', '/v1/subject/binding', { name: '张伟', phone: '13800000001', weixinUserId: 'wx-other', sms_code: '000000' }],
      ['POST', '/v1/visitor/binding', { phone: '13900000001', weixinUserId: 'wx-other', sms_code: '000000' }],
      ['POST', '/v1/visitor/binding', { phone: '13900000001', weixinUserId: ['wx-other'], sms_code: '000000' }],
      ['DELETE', '/v1/subject/binding/wx-other'],
      ['DELETE', `/v1/subject/binding/${me}x`],
      // Wherever it is put, not only where the original API had it.
      ['POST', '/v1/subject/binding?weixinUserId=wx-other', { name: '张伟', phone: '13800000001', sms_code: '000000' }],
      ['POST', '/v1/visitor/binding?weixinUserId=wx-other', { phone: '13900000001', sms_code: '000000' }],
      ['DELETE', `/v1/subject/binding/${me}?weixinUserId=wx-other`],
      ['POST', '/v1/sms/code', { phone: '13900000001', weixinUserId: 'wx-other' }],
      ['POST', '/v1/sms/code?weixinUserId=wx-other', { phone: '13900000001' }],
    ];
    for (const [method, url, body] of foreign) {
      const res = await h.request(method, url, { token, body });
      try {
        expectFailure(res, 403, 'FORBIDDEN');
      } catch (err) {
        throw new Error(`${method} ${url} ${JSON.stringify(body ?? '')}: ${res.status} ${JSON.stringify(res.body)}\n${String(err)}`);
      }
    }
    // Nothing was unbound, bound or sent by those.
    expect(h.sims.cloud.server.received.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(h.sims.sms.server.received).toEqual([]);

    for (const url of ['/v1/subject/binding', '/v1/visitor/binding']) {
      for (const q of ['', `?weixinUserId=${me}`, '?weixinUserId=']) {
        const res = await h.request('GET', `${url}${q}`, { token });
        expect([url + q, res.status, res.body]).toEqual([url + q, 200, { code: 0, err_msg: '', data: {} }]);
      }
    }
    for (const q of ['', `?weixinUserId=${me}`]) expectFailure(await h.request('GET', `/v1/wechat/is_binding${q}`, { token }), 404, 'NOT_BOUND');
    expect((await h.request('DELETE', `/v1/subject/binding/${me}`, { token })).body).toEqual({ code: 0, err_msg: '', data: {} });
    // Unbinding ended the session; a new one carries on.
    expectFailure(await h.request('GET', '/v1/visitor/binding', { token }), 401, 'UNAUTHENTICATED');
    const again = await h.session(me);
    // Body: the own weixinUserId passes on to the business rules (here: no SMS code).
    const own = await h.request('POST', '/v1/visitor/binding', { token: again, body: { phone: '13900000001', weixinUserId: me } });
    expectFailure(own, 400, 'SMS_CODE_INVALID');
  });
});

describe('envelopes and request ids', () => {
  it('every answer carries x-request-id; a well-formed one sent by the client is echoed', async () => {
    const token = await h.session('wx-reqid');
    const answers = [
      await h.request('GET', '/v1/visitor/binding', { token }),
      await h.request('GET', '/v1/visitor/binding'),
      await h.request('GET', '/v1/nope'),
      await h.request('POST', '/v1/session', { body: {} }),
      await h.request('GET', '/healthz'),
    ];
    for (const res of answers) expect(res.headers['x-request-id']).toMatch(/^[\w-]{1,64}$/);
    const ids = new Set(answers.map((r) => r.headers['x-request-id']));
    expect(ids.size).toBe(answers.length);

    const echoed = await h.request('GET', '/v1/visitor/binding', { token, headers: { 'x-request-id': 'trace-abc-123' } });
    expect(echoed.headers['x-request-id']).toBe('trace-abc-123');
    const failed = await h.request('GET', '/v1/visitor/binding', { headers: { 'x-request-id': 'trace-def-456' } });
    expect(failed.headers['x-request-id']).toBe('trace-def-456');
    const odd = await h.request('GET', '/v1/visitor/binding', { token, headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(odd.headers['x-request-id']).toMatch(/^[\w-]{1,64}$/);
    expect(odd.headers['x-request-id']).not.toContain(' ');
  });

  it('malformed requests get the envelope with a status from the catalogue', async () => {
    const token = await h.session('wx-malformed');
    const cases: Array<{ url: string; headers?: Record<string, string>; payload?: string }> = [
      { url: '/v1/visitor/binding', headers: { 'content-type': 'text/plain' }, payload: 'phone=13900000001' },
      { url: '/v1/visitor/binding', headers: { 'content-type': 'application/xml' }, payload: '<phone/>' },
      { url: '/v1/visitor/binding', headers: { 'content-type': 'application/json' }, payload: '' },
      { url: '/v1/visitor/binding', headers: { 'content-type': 'application/json' }, payload: '[]' },
      { url: '/v1/visitor/binding', headers: { 'content-type': 'application/json' }, payload: '"13900000001"' },
      { url: '/v1/visitor/binding', headers: { 'content-type': 'application/json' }, payload: 'null' },
      { url: '/v1/visitor/binding', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ phone: 'x'.repeat(70_000) }) },
      { url: '/v1/session', headers: { 'content-type': 'text/plain' }, payload: 'code=abc' },
    ];
    for (const c of cases) {
      const res = await h.request('POST', c.url, { token, headers: c.headers, payload: c.payload });
      try {
        expectFailure(res, 400, 'VALIDATION_FAILED');
      } catch (err) {
        throw new Error(`${c.url} ${JSON.stringify(c.headers)} ${c.payload?.slice(0, 40)}: ${res.status} ${JSON.stringify(res.body)}\n${String(err)}`);
      }
    }
  });

  it('a 500 is INTERNAL with the request id and no stack trace or SQL', async () => {
    const token = await h.session('wx-internal');
    await h.database.db.execute(sql.raw('alter table sms_codes rename to sms_codes_away'));
    try {
      const res = await h.request('POST', '/v1/sms/code', { token, body: { phone: '13900000077' }, headers: { 'x-request-id': 'req-500' } });
      expectFailure(res, 500, 'INTERNAL');
      expect(res.body.err_msg).toContain('req-500');
    } finally {
      await h.database.db.execute(sql.raw('alter table sms_codes_away rename to sms_codes'));
    }
    expect(h.sims.sms.messages()).toEqual([]);
    expect((await h.request('POST', '/v1/sms/code', { token, body: { phone: '13900000077' } })).status).toBe(200);
  });
});
