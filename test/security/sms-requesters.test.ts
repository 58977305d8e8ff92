import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allNotifications, newOpenid, newPhone, settled, TestClock } from '../helpers/apply.js';
import { anApplication, anUnboundUser, aStaff } from '../helpers/factories.js';
import { startHarness, type Harness, type Reply } from '../helpers/harness.js';

/**
 * Verification codes asked for by strangers: one session (even unbound) texting many phones,
 * code requests using up the service's SMS budget, and a stranger spending somebody else's
 * code or per-phone allowance. The limits are per requester (WeChat user, client address) and
 * live in the database, like the per-phone ones.
 */

/** A clock frozen ten minutes into an hour: fixed windows cannot roll over mid-test. */
function alignedClock(): TestClock {
  const clock = new TestClock();
  const into = clock.now() % 3_600_000;
  clock.advance(Math.round(((600_000 - into + 3_600_000) % 3_600_000) / 1000));
  clock.freeze();
  return clock;
}

/** A request from a given client address (the harness's own requests all come from 127.0.0.1). */
async function post(h: Harness, url: string, token: string, body: object, address = '127.0.0.1'): Promise<Reply> {
  const res = await h.runtime.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload: body, remoteAddress: address });
  return { status: res.statusCode, body: JSON.parse(res.body), headers: res.headers as Reply['headers'] };
}

function expectRateLimited(res: Reply, message: RegExp, maxSeconds = 3600): number {
  expect(res.status, JSON.stringify(res.body)).toBe(429);
  expect(res.body).toMatchObject({ code: 429, error: 'RATE_LIMITED' });
  expect(res.body.err_msg).toMatch(message);
  const seconds = Number(res.headers['retry-after']);
  expect(seconds).toBeGreaterThanOrEqual(1);
  expect(seconds).toBeLessThanOrEqual(maxSeconds);
  return seconds;
}

describe('code requests per requester, and their share of the SMS budget', () => {
  let h: Harness;
  const clock = alignedClock();
  beforeAll(async () => {
    // Codes may use half of the 8 SMS an hour; 3 different phones per address an hour.
    h = await startHarness({
      now: clock.now,
      sms: { limits: null },
      env: { SMS_GLOBAL_PER_HOUR: '8', SMS_CODE_SHARE_PERCENT: '50', SMS_CODE_PHONES_PER_ADDRESS_PER_HOUR: '3' },
    });
  });
  afterAll(async () => h?.close());

  const code = (token: string, phone: string, address?: string) => post(h, '/v1/sms/code', token, { phone }, address);
  const smsTo = (phone: string) => h.sims.sms.messages().filter((m) => m.phone === phone);

  it('one unbound session: 3 different phones an hour, then 429; a phone it already asked for still works', async () => {
    const { token } = await anUnboundUser(h, newOpenid('sprayer'));
    const phones = [newPhone(), newPhone(), newPhone(), newPhone()];
    for (const phone of phones.slice(0, 3)) expect((await code(token, phone, '10.0.0.1')).status).toBe(200);
    expectRateLimited(await code(token, phones[3]!, '10.0.0.2'), /手机号过多/);
    expect(smsTo(phones[3]!)).toEqual([]);
    clock.advance(61);
    expect((await code(token, phones[0]!, '10.0.0.3')).status).toBe(200);
    expect(smsTo(phones[0]!)).toHaveLength(2);
    // The next hour the session may ask for new phones again.
    clock.advance(3600);
    expect((await code(token, phones[3]!, '10.0.0.4')).status).toBe(200);
  });

  it('one address, many WeChat users: 3 different phones an hour from it, other addresses unaffected', async () => {
    clock.advance(3600);
    const users = await Promise.all([1, 2, 3].map((i) => anUnboundUser(h, newOpenid(`nat${i}`))));
    const phones = [newPhone(), newPhone(), newPhone(), newPhone()];
    expect((await code(users[0]!.token, phones[0]!, '10.1.0.1')).status).toBe(200);
    expect((await code(users[1]!.token, phones[1]!, '10.1.0.1')).status).toBe(200);
    expect((await code(users[2]!.token, phones[2]!, '10.1.0.1')).status).toBe(200);
    expectRateLimited(await code(users[2]!.token, phones[3]!, '10.1.0.1'), /当前网络/);
    expect(smsTo(phones[3]!)).toEqual([]);
    expect((await code(users[2]!.token, phones[3]!, '10.1.0.2')).status).toBe(200);
  });

  it('codes use at most half of the hourly SMS budget: a flood of code requests leaves the notifications theirs', async () => {
    clock.advance(3600);
    const results: Reply[] = [];
    for (let i = 0; i < 8; i++) {
      const { token } = await anUnboundUser(h, newOpenid(`flood${i}`));
      results.push(await code(token, newPhone(), `10.2.0.${i + 1}`));
    }
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
    for (const r of results.slice(4)) expectRateLimited(r, /短信发送过于频繁/);

    // The same hour: four staff invitations text their visitors; none is skipped.
    const host = await aStaff(h, 'zhangwei', { openid: newOpenid('share-host') });
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push((await anApplication(h, { by: host, visitor: { name: `客${i}`, phone: newPhone() }, window: clock.window(1) })).id);
    for (const id of ids) await settled(h, id);
    const sms = (await allNotifications(h)).filter((r) => ids.includes(r.applicationId) && r.channel === 'sms');
    expect(sms.map((r) => [r.status, r.lastError])).toEqual(ids.map(() => ['sent', null]));
  });
});

describe("a stranger and somebody else's code", () => {
  let h: Harness;
  const clock = alignedClock();
  beforeAll(async () => {
    h = await startHarness({ now: clock.now, sms: { limits: null } });
  });
  afterAll(async () => h?.close());

  const code = (token: string, phone: string) => post(h, '/v1/sms/code', token, { phone });
  const bind = (token: string, phone: string, smsCode: string) => post(h, '/v1/visitor/binding', token, { phone, sms_code: smsCode });
  const wrong = (right: string, i: number) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');

  it("one stranger's wrong guesses do not spend the owner's code", async () => {
    const phone = newPhone();
    const { token: owner } = await anUnboundUser(h, newOpenid('owner'));
    const { token: stranger } = await anUnboundUser(h, newOpenid('stranger'));
    expect((await code(owner, phone)).status).toBe(200);
    const right = h.sims.sms.lastCodeFor(phone)!;
    for (let i = 0; i < 6; i++) expect((await bind(stranger, phone, wrong(right, i))).body.error).toBe('SMS_CODE_INVALID');
    const res = await bind(owner, phone, right);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(
      h.sims.cloud
        .bindings()
        .filter((b) => b.phone === phone)
        .map((b) => b.weixinUserId),
    ).toEqual([expect.stringContaining('owner')]);
  });

  it("one stranger asking codes for a phone uses only a share of the phone's hour and day", async () => {
    clock.advance(3600);
    const phone = newPhone();
    const { token: stranger } = await anUnboundUser(h, newOpenid('hog'));
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await code(stranger, phone)).status);
      clock.advance(61);
    }
    // 3 of the phone's 5 an hour.
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expectRateLimited(await code(stranger, phone), /这个手机号/);
    const { token: owner } = await anUnboundUser(h, newOpenid('owner2'));
    expect((await code(owner, phone)).status).toBe(200);
    expect((await bind(owner, phone, h.sims.sms.lastCodeFor(phone)!)).status).toBe(200);

    // The next hour: 2 more for the stranger (5 of the phone's 10 a day), then none today.
    clock.advance(3600);
    expect((await code(stranger, phone)).status).toBe(200);
    clock.advance(61);
    expect((await code(stranger, phone)).status).toBe(200);
    clock.advance(3600);
    expect(expectRateLimited(await code(stranger, phone), /这个手机号/, 86_400)).toBeGreaterThan(3600);
    const { token: later } = await anUnboundUser(h, newOpenid('owner3'));
    expect((await code(later, phone)).status).toBe(200);
  });
});
