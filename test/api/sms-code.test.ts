import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness, type Reply } from '../helpers/harness.js';

/** api-contract.md §3.0: POST /v1/sms/code. */

// The service's clock and the Aliyun simulator's (its own flow control) move apart or together.
// Both stand still unless moved, so that windows are exact.
const T0 = Date.now();
let offset = 0;
let smsOffset = 0;
const now = () => T0 + offset;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Moves both clocks. */
const advance = (ms: number) => {
  offset += ms;
  smsOffset += ms;
};

let h: Harness;
let token: string;
/** Three sessions: one WeChat user may use only a share of a phone's hour and day. */
let others: string[];

beforeAll(async () => {
  // The per-phone limits of §3.0 are under test here; one session asks codes for many phones, so
  // the per-caller limit on phones is lifted (test/security/sms-abuse.test.ts holds it).
  h = await startHarness({ now, sms: { now: () => T0 + smsOffset }, env: { SMS_CODE_PHONES_PER_HOUR: '1000' } });
  token = await h.session('wx-sms');
  others = [token, await h.session('wx-sms-2'), await h.session('wx-sms-3')];
});
afterAll(async () => {
  await h?.close();
});

const sendCode = (phone: unknown, t = token) => h.request('POST', '/v1/sms/code', { token: t, body: { phone } });
const bindVisitor = (phone: string, code: string, t = token) => h.request('POST', '/v1/visitor/binding', { token: t, body: { phone, sms_code: code } });

function expectFailure(res: Reply, status: number, error: string): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { code: status, error } });
  expect(Object.keys(res.body).sort()).toEqual(['code', 'err_msg', 'error']);
}

function expectRateLimited(res: Reply, min: number, max: number): number {
  expectFailure(res, 429, 'RATE_LIMITED');
  const retryAfter = res.headers['retry-after'];
  expect(retryAfter).toMatch(/^\d+$/);
  const seconds = Number(retryAfter);
  expect(seconds).toBeGreaterThanOrEqual(min);
  expect(seconds).toBeLessThanOrEqual(max);
  return seconds;
}

/** The code the service tried to send to `phone` last (read from what reached Aliyun, refused or not). */
function lastAttemptedCode(phone: string): string {
  const req = [...h.sims.sms.server.received].reverse().find((r) => r.query.PhoneNumbers === phone);
  if (!req) throw new Error(`no SendSms for ${phone}`);
  return (JSON.parse(String(req.query.TemplateParam)) as { code: string }).code;
}

const smsTo = (phone: string) => h.sims.sms.messages().filter((m) => m.phone === phone);

describe('POST /v1/sms/code', () => {
  it('sends a 6-digit code with the verification template before answering; the code binds', async () => {
    const res = await sendCode('13900000100');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 0, err_msg: '', data: {} });
    const sent = smsTo('13900000100');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      phone: '13900000100',
      sign_name: '来访',
      template_code: 'SMS_TPL_VERIFICATION_CODE',
      params: { code: expect.stringMatching(/^\d{6}$/) },
    });
    expect(Object.keys(sent[0]!.params)).toEqual(['code']);
    const bound = await bindVisitor('13900000100', sent[0]!.params.code!);
    expect(bound.status).toBe(200);
    expect(bound.body.data.phone).toBe('13900000100');
  });

  it('codes differ from one send to the next', async () => {
    const codes = new Set<string>();
    for (let i = 0; i < 5; i++) {
      expect((await sendCode(`1390000020${i}`)).status).toBe(200);
      codes.add(h.sims.sms.lastCodeFor(`1390000020${i}`)!);
    }
    expect(codes.size).toBeGreaterThan(1);
  });

  it('normalises the phone (spaces, dashes, +86 / 0086 / 86) and sends to the 11 digits', async () => {
    const inputs: Array<[unknown, string]> = [
      ['+86 139-0000-0301', '13900000301'],
      ['0086 13900000302', '13900000302'],
      ['8613900000303', '13900000303'],
      ['139 0000 0304', '13900000304'],
      ['+8613900000305', '13900000305'],
    ];
    for (const [input, phone] of inputs) {
      const res = await sendCode(input);
      expect([input, res.status]).toEqual([input, 200]);
      expect(smsTo(phone)).toHaveLength(1);
    }
    // The normalised phone is the one the code is for.
    expect((await bindVisitor('139-0000-0301', h.sims.sms.lastCodeFor('13900000301')!)).status).toBe(200);
  });

  it('a phone that is not a mainland mobile number is 400 naming `phone`, and nothing is sent', async () => {
    const before = h.sims.sms.server.received.length;
    for (const phone of [
      '12900000001',
      '1390000030',
      '139000003011',
      'abcdefghijk',
      '',
      '   ',
      '+1 415 555 0100',
      '020-12345678',
      'x'.repeat(40),
      { n: 1 },
      ['13900000301', '13900000302'],
      null,
    ]) {
      const res = await sendCode(phone);
      expect([phone, res.status, res.body.error]).toEqual([phone, 400, 'VALIDATION_FAILED']);
      expect(res.body.err_msg).toContain('phone');
    }
    const missing = await h.request('POST', '/v1/sms/code', { token, body: {} });
    expectFailure(missing, 400, 'VALIDATION_FAILED');
    expect(missing.body.err_msg).toContain('phone');
    expect(h.sims.sms.server.received.length).toBe(before);
  });

  it('needs a session', async () => {
    expectFailure(await h.request('POST', '/v1/sms/code', { body: { phone: '13900000399' } }), 401, 'UNAUTHENTICATED');
    expect(smsTo('13900000399')).toEqual([]);
  });
});

describe('limits per phone: 1 a minute, 5 an hour, 10 a day (429 RATE_LIMITED, Retry-After)', () => {
  it('1 a minute', async () => {
    const phone = '13900000400';
    expect((await sendCode(phone)).status).toBe(200);
    advance(30_000);
    expectRateLimited(await sendCode(phone), 30, 30);
    // Another phone is not affected; another session for the same phone is.
    expect((await sendCode('13900000401')).status).toBe(200);
    expectRateLimited(await sendCode(phone, await h.session('wx-sms-other')), 30, 30);
    advance(30_000);
    expect((await sendCode(phone)).status).toBe(200);
    expect(smsTo(phone)).toHaveLength(2);
  });

  it('5 an hour', async () => {
    const phone = '13900000410';
    const start = now();
    for (let i = 0; i < 5; i++) {
      expect((await sendCode(phone, others[i % 3])).status).toBe(200);
      advance(61_000);
    }
    const elapsed = (now() - start) / 1000;
    expectRateLimited(await sendCode(phone, others[2]), 3600 - elapsed, 3600 - elapsed);
    advance(start + HOUR - now() - 1000);
    expectRateLimited(await sendCode(phone), 1, 1);
    advance(1000);
    expect((await sendCode(phone)).status).toBe(200);
    expect(smsTo(phone)).toHaveLength(6);
  });

  it('10 a day', async () => {
    const phone = '13900000420';
    const start = now();
    for (let hour = 0; hour < 2; hour++) {
      for (let i = 0; i < 5; i++) {
        expect((await sendCode(phone, others[(hour * 5 + i) % 3])).status).toBe(200);
        advance(61_000);
      }
      advance(HOUR);
    }
    const elapsed = (now() - start) / 1000;
    expectRateLimited(await sendCode(phone, others[1]), 86_400 - elapsed, 86_400 - elapsed);
    advance(start + DAY - now());
    expect((await sendCode(phone)).status).toBe(200);
    expect(smsTo(phone)).toHaveLength(11);
  });

  it('concurrent requests for one phone send one code', async () => {
    const phone = '13900000430';
    const results = await Promise.all([sendCode(phone), sendCode(phone), sendCode(phone), sendCode(phone)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 429, 429, 429]);
    expect(smsTo(phone)).toHaveLength(1);
  });
});

describe('Aliyun refuses or is unreachable: nothing usable is left behind, nothing counts', () => {
  /** After a failed send: the code that went out is not usable, and the phone may ask again at once. */
  async function expectNothingLeft(phone: string, attempted: string): Promise<void> {
    expectFailure(await bindVisitor(phone, attempted, await h.session(`wx-guess-${phone}`)), 400, 'SMS_CODE_INVALID');
    expect(h.sims.cloud.bindings().filter((b) => b.phone === phone)).toEqual([]);
    // Aliyun may have delivered a message it did not answer for in time: its own minute must pass.
    smsOffset += 61_000;
    const again = await sendCode(phone);
    expect(again.status).toBe(200);
    expect((await bindVisitor(phone, h.sims.sms.lastCodeFor(phone)!, await h.session(`wx-ok-${phone}`))).status).toBe(200);
  }

  it("Aliyun's own flow control (isv.BUSINESS_LIMIT_CONTROL) is 429 with Retry-After", async () => {
    const phone = '13900000500';
    expect((await sendCode(phone)).status).toBe(200);
    // Our clock says a minute has passed; Aliyun's does not: Aliyun refuses.
    offset += 61_000;
    const refused = await sendCode(phone);
    expectRateLimited(refused, 1, 60);
    expect(h.sims.sms.server.received.filter((r) => r.query.PhoneNumbers === phone)).toHaveLength(2);
    expect(smsTo(phone)).toHaveLength(1);
    const attempted = lastAttemptedCode(phone);
    smsOffset = offset;
    await expectNothingLeft(phone, attempted);
  });

  it('isv.DAY_LIMIT_CONTROL is 429 with a day-long Retry-After', async () => {
    const phone = '13900000510';
    h.sims.sms.server.setFault({ status: 200, times: 1, body: JSON.stringify({ Code: 'isv.DAY_LIMIT_CONTROL', Message: '触发日发送限额', RequestId: 'A1' }) });
    expectRateLimited(await sendCode(phone), 3600, 86_400);
    await expectNothingLeft(phone, lastAttemptedCode(phone));
  });

  it('another refusal (HTTP 200, Code ≠ OK) is 502 UPSTREAM_FAILED', async () => {
    const refusals = ['isv.MOBILE_NUMBER_ILLEGAL', 'isv.AMOUNT_NOT_ENOUGH', 'isv.SMS_TEMPLATE_ILLEGAL', 'isv.BLACK_KEY_CONTROL_LIMIT'];
    for (const [i, Code] of refusals.entries()) {
      const phone = `1390000052${i}`;
      h.sims.sms.server.setFault({ status: 200, times: 1, body: JSON.stringify({ Code, Message: `${Code} refused`, RequestId: 'B2' }) });
      expectFailure(await sendCode(phone), 502, 'UPSTREAM_FAILED');
      await expectNothingLeft(phone, lastAttemptedCode(phone));
    }
  });

  it('an HTTP 4xx or 500 error document from Aliyun is 502 UPSTREAM_FAILED', async () => {
    const faults = [
      {
        status: 400,
        body: JSON.stringify({ Code: 'SignatureDoesNotMatch', Message: 'Specified signature does not match', RequestId: 'C3', HostId: 'x', Recommend: 'y' }),
      },
      {
        status: 404,
        body: JSON.stringify({
          Code: 'InvalidAccessKeyId.NotFound',
          Message: 'Specified access key is not found.',
          RequestId: 'C4',
          HostId: 'x',
          Recommend: 'y',
        }),
      },
      {
        status: 500,
        body: JSON.stringify({
          Code: 'InternalError',
          Message: 'The request processing has failed due to some unknown error.',
          RequestId: 'C5',
          HostId: 'x',
          Recommend: 'y',
        }),
      },
    ];
    for (const [i, f] of faults.entries()) {
      const phone = `1390000053${i}`;
      h.sims.sms.server.setFault({ ...f, times: 1 });
      const res = await sendCode(phone);
      expect([f.status, res.status]).toEqual([f.status, 502]);
      expectFailure(res, 502, 'UPSTREAM_FAILED');
      await expectNothingLeft(phone, lastAttemptedCode(phone));
    }
  });

  it('Aliyun unreachable (connection dropped, 502–504, no answer in time) is 503 UPSTREAM_UNAVAILABLE', async () => {
    const faults = [
      { status: 0 },
      { status: 503, body: '{"Code":"ServiceUnavailable","Message":"busy","RequestId":"D1"}' },
      { status: 504, body: '{"Code":"GatewayTimeout","Message":"timeout","RequestId":"D2"}' },
      // A gateway's own HTML page: the SDK cannot read its status, but it is still "no answer".
      { status: 502, body: '<html><body>502 Bad Gateway</body></html>', contentType: 'text/html' },
      { delayMs: 2_600 },
    ];
    for (const [i, f] of faults.entries()) {
      const phone = `1390000054${i}`;
      h.sims.sms.server.setFault({ ...f, times: 1 });
      const res = await sendCode(phone);
      expect([f, res.status]).toEqual([f, 503]);
      expectFailure(res, 503, 'UPSTREAM_UNAVAILABLE');
      expect(JSON.stringify(res.body)).not.toMatch(/1390000054|127\.0\.0\.1|Error/);
      await expectNothingLeft(phone, lastAttemptedCode(phone));
    }
  });
});
