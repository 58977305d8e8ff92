import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAliyunSmsClient } from '../../src/adapters/sms/client.js';
import {
  DEFAULT_SMS_ACCESS_KEY_ID,
  DEFAULT_SMS_ACCESS_KEY_SECRET,
  startAliyunSmsSimulator,
  type AliyunSmsSimulator,
} from '../../src/adapters/sms/simulator.js';
import { captureLogger, failure } from '../helpers/upstream.js';

const VERIFY = 'SMS_VERIFY_1';
const NOTICE = 'SMS_NOTICE_1';
let clock = Date.now();
let sim: AliyunSmsSimulator;
const log = captureLogger();
type Over = Partial<{ endpoint: string; accessKeyId: string; accessKeySecret: string; timeoutMs: number; signName: string }>;
const client = (over: Over = {}) =>
  createAliyunSmsClient({
    endpoint: sim.url,
    accessKeyId: sim.accessKeyId,
    accessKeySecret: sim.accessKeySecret,
    signName: '来访',
    timeoutMs: 2000,
    logger: log.logger,
    ...over,
  });

beforeAll(async () => {
  sim = await startAliyunSmsSimulator({ verificationTemplates: [VERIFY], now: () => clock });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.reset();
  clock = Date.now();
  log.lines.length = 0;
});

describe('SendSms through the official SDK', () => {
  it('sends: BizId back, phone, sign, template, TemplateParam and OutId received', async () => {
    expect([sim.accessKeyId, sim.accessKeySecret]).toEqual([DEFAULT_SMS_ACCESS_KEY_ID, DEFAULT_SMS_ACCESS_KEY_SECRET]);
    const params = { name: "王五 (O'Neil) *100% ~ok!", host: '李四', time: '2025-12-01 09:00' };
    const { bizId } = await client().send({ phone: '13800138000', templateCode: NOTICE, params, outId: 'notif-42' });
    expect(bizId).toMatch(/\^0$/);
    expect(sim.messages()).toEqual([{ phone: '13800138000', sign_name: '来访', template_code: NOTICE, params, out_id: 'notif-42', biz_id: bizId, at: clock }]);
    const listed = (await (await fetch(`${sim.url}/__sim/sms/messages`)).json()) as unknown[];
    expect(listed).toHaveLength(1);
  });

  it('speaks the RPC/ACS3 wire format the simulator verifies', async () => {
    await client().send({ phone: '13800138000', templateCode: NOTICE, params: { a: 'b' } });
    const req = sim.server.received[0];
    expect(req).toMatchObject({
      method: 'POST',
      path: '/',
      query: { PhoneNumbers: '13800138000', SignName: '来访', TemplateCode: NOTICE, TemplateParam: '{"a":"b"}' },
    });
    expect(req?.headers).toMatchObject({
      'x-acs-action': 'SendSms',
      'x-acs-version': '2017-05-25',
      'x-acs-date': expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      'x-acs-signature-nonce': expect.stringMatching(/^[0-9a-f]+$/),
      'x-acs-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      authorization: expect.stringMatching(
        new RegExp(`^ACS3-HMAC-SHA256 Credential=${DEFAULT_SMS_ACCESS_KEY_ID},SignedHeaders=host;x-acs-action;[a-z0-9;-]+,Signature=[0-9a-f]{64}$`),
      ),
    });
  });

  it('a wrong access key secret fails the signature check: permanent', async () => {
    const err = await failure(client({ accessKeySecret: 'not-the-secret' }).send({ phone: '13800138000', templateCode: NOTICE, params: {} }));
    expect(err).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false, providerCode: 'SignatureDoesNotMatch', system: 'sms' });
    expect(sim.messages()).toEqual([]);
  });

  it('an unknown access key id is permanent', async () => {
    const err = await failure(client({ accessKeyId: 'someone-else' }).send({ phone: '13800138000', templateCode: NOTICE, params: {} }));
    expect(err).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false, providerCode: 'InvalidAccessKeyId.NotFound' });
  });

  it('the simulator refuses a replayed request and a tampered one', async () => {
    await client().send({ phone: '13800138000', templateCode: NOTICE, params: { a: 'b' } });
    const original = sim.server.received[0];
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(original?.headers ?? {})) if (k.startsWith('x-acs-') || k === 'authorization' || k === 'accept') headers[k] = String(v);
    const send = (query: Record<string, string>) => fetch(`${sim.url}/?${new URLSearchParams(query).toString()}`, { method: 'POST', headers });

    const replay = await send(original?.query as Record<string, string>);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ Code: 'SignatureNonceUsed', RequestId: expect.any(String) });

    const tampered = await send({ ...(original?.query as Record<string, string>), PhoneNumbers: '13900139000' });
    expect(tampered.status).toBe(400);
    expect(await tampered.json()).toMatchObject({ Code: 'SignatureDoesNotMatch' });
    expect(sim.messages()).toHaveLength(1);
  });

  it('an unsigned request is refused', async () => {
    const res = await fetch(`${sim.url}/?PhoneNumbers=13800138000`, { method: 'POST', headers: { 'x-acs-action': 'SendSms', 'x-acs-version': '2017-05-25' } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ Code: 'IncompleteSignature' });
  });

  it('an invalid phone is a permanent refusal (isv.MOBILE_NUMBER_ILLEGAL)', async () => {
    const err = await failure(client().send({ phone: '1234', templateCode: NOTICE, params: {} }));
    expect(err).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false, providerCode: 'isv.MOBILE_NUMBER_ILLEGAL' });
  });

  it('a variable over 35 characters is refused like Aliyun (isv.PARAM_LENGTH_LIMIT, permanent); 35 passes', async () => {
    const send = (value: string) => client().send({ phone: '13800138000', templateCode: NOTICE, params: { name: value, host: '李四' } });
    expect(await failure(send('张'.repeat(36)))).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false, providerCode: 'isv.PARAM_LENGTH_LIMIT' });
    // Counted in UTF-16 units, as Aliyun's Java side counts: 18 characters outside the BMP are 36.
    expect(await failure(send('\u{20000}'.repeat(18)))).toMatchObject({ providerCode: 'isv.PARAM_LENGTH_LIMIT' });
    await send('张'.repeat(35));
    expect(sim.messages()).toHaveLength(1);
    // The answer itself, as Aliyun words it: HTTP 200, Code and Message.
    const last = sim.server.received.at(-1)!;
    expect(last.query.TemplateParam).toBe(JSON.stringify({ name: '张'.repeat(35), host: '李四' }));
  });

  it('a link in a variable is refused (isv.PARAM_NOT_SUPPORT_URL): links are fixed template text', async () => {
    const err = await failure(client().send({ phone: '13800138000', templateCode: NOTICE, params: { url: 'https://a.cn/p/1' } }));
    expect(err).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false, providerCode: 'isv.PARAM_NOT_SUPPORT_URL' });
    expect(sim.messages()).toEqual([]);
  });

  it('reads the newest verification code sent to a phone', async () => {
    await client().send({ phone: '13800138000', templateCode: VERIFY, params: { code: '123456' } });
    expect(sim.lastCodeFor('13800138000')).toBe('123456');
    expect(sim.lastCodeFor('+86 13800138000'.replace(' ', ''))).toBe('123456');
    expect(sim.lastCodeFor('13900139000')).toBeUndefined();
    const res = await fetch(`${sim.url}/__sim/sms/last-code?phone=13800138000`);
    expect(await res.json()).toEqual({ code: '123456' });
  });
});

describe("Aliyun's per-number flow control", () => {
  const verify = (phone = '13800138000', code = '111111') => client().send({ phone, templateCode: VERIFY, params: { code } });

  it('verification codes: 1 a minute → RATE_LIMITED, transient, with the provider code', async () => {
    await verify();
    const err = await failure(verify());
    expect(err).toMatchObject({ code: 'RATE_LIMITED', status: 429, transient: true, providerCode: 'isv.BUSINESS_LIMIT_CONTROL', retryAfter: 60 });
    // Another phone is not affected; a minute later the first may send again.
    await verify('13900139000');
    clock += 61_000;
    await verify();
    expect(sim.messages()).toHaveLength(3);
  });

  it('verification codes: 5 an hour, 10 a day', async () => {
    for (let i = 0; i < 5; i += 1) {
      await verify();
      clock += 61_000;
    }
    const hour = await failure(verify());
    expect(hour).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 3600 });
    clock += 3600_000;
    for (let i = 0; i < 5; i += 1) {
      await verify();
      clock += 61_000;
    }
    clock += 3600_000;
    const day = await failure(verify());
    expect(day).toMatchObject({ code: 'RATE_LIMITED', providerCode: 'isv.BUSINESS_LIMIT_CONTROL', retryAfter: 86400 });
    sim.resetLimits();
    await verify();
    expect(sim.messages()).toHaveLength(11);
  });

  it('other templates have a daily cap per phone and template; limits: null switches all off', async () => {
    const capped = await startAliyunSmsSimulator({ limits: { otherPerDay: 2 } });
    const free = await startAliyunSmsSimulator({ limits: null });
    try {
      const c = client({ endpoint: capped.url });
      const notice = (templateCode: string) => c.send({ phone: '13800138000', templateCode, params: { name: 'x' } });
      await notice(NOTICE);
      await notice(NOTICE);
      expect(await failure(notice(NOTICE))).toMatchObject({ code: 'RATE_LIMITED', providerCode: 'isv.BUSINESS_LIMIT_CONTROL' });
      await notice('SMS_OTHER');
      const f = client({ endpoint: free.url });
      for (let i = 0; i < 3; i += 1) await f.send({ phone: '13800138000', templateCode: 'SMS_CODE', params: { code: String(i) } });
      expect(free.messages()).toHaveLength(3);
    } finally {
      await capped.close();
      await free.close();
    }
  });

  it('unknown sign or template is refused when the simulator knows its list', async () => {
    const strict = await startAliyunSmsSimulator({ signNames: ['来访'], templateCodes: [NOTICE] });
    try {
      const err = await failure(client({ endpoint: strict.url, signName: '别的' }).send({ phone: '13800138000', templateCode: NOTICE, params: {} }));
      expect(err).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false, providerCode: 'isv.SMS_SIGNATURE_ILLEGAL' });
      const tpl = await failure(client({ endpoint: strict.url }).send({ phone: '13800138000', templateCode: 'SMS_NOPE', params: {} }));
      expect(tpl).toMatchObject({ providerCode: 'isv.SMS_TEMPLATE_ILLEGAL', transient: false });
    } finally {
      await strict.close();
    }
  });
});

describe('HTTP and network failures', () => {
  const send = (over: Over = {}) => client(over).send({ phone: '13800138000', templateCode: NOTICE, params: { name: 'x' } });
  const aliyunError = (code: string) => JSON.stringify({ Code: code, Message: 'm', RequestId: 'r' });

  it.each([
    [500, 'UPSTREAM_FAILED', true],
    [502, 'UPSTREAM_UNAVAILABLE', true],
    [503, 'UPSTREAM_UNAVAILABLE', true],
    [504, 'UPSTREAM_UNAVAILABLE', true],
  ] as const)('HTTP %i → %s, transient', async (status, code, transient) => {
    sim.server.setFault({ status, body: aliyunError('ServiceUnavailable'), times: 1 });
    expect(await failure(send())).toMatchObject({ code, transient });
  });

  it('HTTP 4xx is permanent; Throttling.* is RATE_LIMITED transient', async () => {
    sim.server.setFault({ status: 403, body: aliyunError('Forbidden.RAM'), times: 1 });
    expect(await failure(send())).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false, providerCode: 'Forbidden.RAM' });
    sim.server.setFault({ status: 400, body: aliyunError('Throttling.User'), times: 1 });
    expect(await failure(send())).toMatchObject({ code: 'RATE_LIMITED', transient: true, providerCode: 'Throttling.User' });
    sim.server.setFault({ status: 200, body: JSON.stringify({ Code: 'isv.DAY_LIMIT_CONTROL', Message: '触发日发送限额', RequestId: 'r' }), times: 1 });
    expect(await failure(send())).toMatchObject({ code: 'RATE_LIMITED', transient: true, providerCode: 'isv.DAY_LIMIT_CONTROL' });
  });

  it('a non-JSON error page (a gateway answering for Aliyun) is a transient UPSTREAM_UNAVAILABLE', async () => {
    sim.server.setFault({ status: 502, body: '<html>Bad Gateway</html>', contentType: 'text/html', times: 1 });
    expect(await failure(send())).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', transient: true });
  });

  it('no answer in time, a dropped connection and a refused one are UPSTREAM_UNAVAILABLE', async () => {
    sim.server.setFault({ delayMs: 600, times: 1 });
    const started = Date.now();
    expect(await failure(send({ timeoutMs: 150 }))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', transient: true });
    expect(Date.now() - started).toBeLessThan(550);
    sim.server.setFault({ status: 0, times: 1 });
    expect(await failure(send())).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', transient: true });
    const gone = await startAliyunSmsSimulator();
    await gone.close();
    expect(await failure(send({ endpoint: gone.url, timeoutMs: 500 }))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', transient: true });
  });

  it('does not retry by itself (we retry in the worker)', async () => {
    sim.server.setFault({ status: 503, body: aliyunError('ServiceUnavailable'), times: 1 });
    await failure(send());
    expect(sim.server.received).toHaveLength(1);
  });

  it('never logs the full phone, the secret or the verification code', async () => {
    await client().send({ phone: '13800138000', templateCode: VERIFY, params: { code: '987654' } });
    await failure(client().send({ phone: '13800138000', templateCode: VERIFY, params: { code: '987654' } }));
    sim.server.setFault({ status: 0, times: 1 });
    const dropped = await failure(client().send({ phone: '13900139000', templateCode: VERIFY, params: { code: '555444' } }));
    await failure(client({ accessKeySecret: 'wrong-secret-xyz' }).send({ phone: '13700137000', templateCode: NOTICE, params: {} }));
    const text = `${log.lines.join('\n')}\n${dropped.detail ?? ''}`;
    expect(log.lines.length).toBeGreaterThan(0);
    for (const secret of ['13800138000', '13900139000', '13700137000', '987654', '555444', DEFAULT_SMS_ACCESS_KEY_SECRET, 'wrong-secret-xyz'])
      expect(text).not.toContain(secret);
  });
});

describe('QuerySendDetails: was a message with this OutId sent?', () => {
  it('finds a message by its OutId on its China day, and not another one', async () => {
    await client().send({ phone: '13900000007', templateCode: NOTICE, params: { name: '王五' }, outId: '4242' });
    await client().send({ phone: '13900000008', templateCode: NOTICE, params: { name: '赵六' }, outId: '4243' });
    expect(await client().wasSent!({ phone: '13900000007', outId: '4242', sentAt: Date.now() })).toBe(true);
    expect(await client().wasSent!({ phone: '13900000007', outId: '4243', sentAt: Date.now() })).toBe(false);
    expect(await client().wasSent!({ phone: '13900000008', outId: '4242', sentAt: Date.now() })).toBe(false);
    // A day on which nothing was sent to the phone.
    expect(await client().wasSent!({ phone: '13900000007', outId: '4242', sentAt: Date.now() - 3 * 86_400_000 })).toBe(false);
  });

  it('pages through a busy day (50 a page) to find an early message', async () => {
    const quiet = await startAliyunSmsSimulator({ limits: null });
    try {
      const c = createAliyunSmsClient({
        endpoint: quiet.url,
        accessKeyId: quiet.accessKeyId,
        accessKeySecret: quiet.accessKeySecret,
        signName: '来访',
        timeoutMs: 2000,
        logger: log.logger,
      });
      for (let i = 0; i < 60; i++) await c.send({ phone: '13900000009', templateCode: NOTICE, params: { n: String(i) }, outId: `o${i}` });
      expect(await c.wasSent!({ phone: '13900000009', outId: 'o0', sentAt: Date.now() })).toBe(true);
      expect(await c.wasSent!({ phone: '13900000009', outId: 'o60', sentAt: Date.now() })).toBe(false);
      const asked = quiet.server.received.filter((r: { headers?: Record<string, unknown> }) => r.headers?.['x-acs-action'] === 'QuerySendDetails');
      expect(asked.length).toBeGreaterThanOrEqual(2);
    } finally {
      await quiet.close();
    }
  });

  it('an unreachable Aliyun is a transient failure, as for SendSms', async () => {
    const err = await client({ endpoint: 'http://127.0.0.1:9', timeoutMs: 500 }).wasSent!({ phone: '13900000007', outId: '1', sentAt: Date.now() }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', transient: true });
  });
});
