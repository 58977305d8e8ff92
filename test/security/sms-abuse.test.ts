import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAliyunSmsClient } from '../../src/adapters/sms/client.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { createLogger } from '../../src/log.js';
import { guardSms, SmsCapExceeded } from '../../src/modules/notifications/sms-caps.js';
import { allNotifications, newOpenid, newPhone, settled, TestClock } from '../helpers/apply.js';
import { anApplication, anUnboundUser, aStaff, aVisitor, postApplication } from '../helpers/factories.js';
import { STAFF, startHarness, testDbKind, type Harness, type Reply } from '../helpers/harness.js';

/**
 * SMS abuse (issue 6, "Attacks"): codes brute-forced, and one phone bombed through every route
 * that ends in an SMS — codes, staff invitations (text the visitor) and visitor requests (text
 * the host) — held by the per-target-phone, per-caller and global caps, in the database (so
 * across replicas).
 */

/** A clock frozen ten minutes into an hour: fixed windows cannot roll over mid-test. */
function alignedClock(): TestClock {
  const clock = new TestClock();
  const into = clock.now() % 3_600_000;
  clock.advance(Math.round(((600_000 - into + 3_600_000) % 3_600_000) / 1000));
  clock.freeze();
  return clock;
}

function expectRateLimited(res: Reply): number {
  expect(res.status).toBe(429);
  expect(res.body).toMatchObject({ code: 429, error: 'RATE_LIMITED' });
  const seconds = Number(res.headers['retry-after']);
  expect(seconds).toBeGreaterThanOrEqual(1);
  return seconds;
}

describe('verification codes brute-forced', () => {
  let h: Harness;
  const clock = new TestClock();
  beforeAll(async () => {
    // The simulator's own Aliyun flow control off: the service's limits are under test.
    h = await startHarness({ now: clock.now, sms: { limits: null } });
  });
  afterAll(async () => h?.close());

  it('the 5th wrong try spends the code: the right code is refused afterwards; a new code works', async () => {
    const phone = newPhone();
    const { token } = await anUnboundUser(h, newOpenid('brute'));
    expect((await h.request('POST', '/v1/sms/code', { token, body: { phone } })).status).toBe(200);
    const right = h.sims.sms.lastCodeFor(phone)!;
    expect(right).toMatch(/^\d{6}$/);
    const wrong = (i: number) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 5; i++) {
      const res = await h.request('POST', '/v1/visitor/binding', { token, body: { phone, sms_code: wrong(i) } });
      expect(res.status, `try ${i + 1}`).toBe(400);
      expect(res.body.error).toBe('SMS_CODE_INVALID');
    }
    const late = await h.request('POST', '/v1/visitor/binding', { token, body: { phone, sms_code: right } });
    expect(late.status).toBe(400);
    expect(late.body.error).toBe('SMS_CODE_INVALID');
    expect(h.sims.cloud.bindings().some((b) => b.phone === phone)).toBe(false);

    // 1 a minute per phone: an immediate new code is refused with Retry-After.
    expect(expectRateLimited(await h.request('POST', '/v1/sms/code', { token, body: { phone } }))).toBeLessThanOrEqual(60);
    clock.advance(61);
    expect((await h.request('POST', '/v1/sms/code', { token, body: { phone } })).status).toBe(200);
    const fresh = h.sims.sms.lastCodeFor(phone)!;
    const ok = await h.request('POST', '/v1/visitor/binding', { token, body: { phone, sms_code: fresh } });
    expect(ok.status).toBe(200);
  });

  it('a brute force across many sessions gains nothing: the tries count per phone, not per caller', async () => {
    clock.advance(3600);
    const phone = newPhone();
    const { token: owner } = await anUnboundUser(h, newOpenid('owner'));
    expect((await h.request('POST', '/v1/sms/code', { token: owner, body: { phone } })).status).toBe(200);
    const right = h.sims.sms.lastCodeFor(phone)!;
    for (let i = 0; i < 5; i++) {
      const { token: attacker } = await anUnboundUser(h, newOpenid(`attacker${i}`));
      const guess = String((Number(right) + 7 + i) % 1_000_000).padStart(6, '0');
      expect((await h.request('POST', '/v1/visitor/binding', { token: attacker, body: { phone, sms_code: guess } })).body.error).toBe('SMS_CODE_INVALID');
    }
    expect((await h.request('POST', '/v1/visitor/binding', { token: owner, body: { phone, sms_code: right } })).body.error).toBe('SMS_CODE_INVALID');
  });
});

describe('SMS bombing of one phone: per target phone, per caller', () => {
  let h: Harness;
  const clock = alignedClock();
  beforeAll(async () => {
    h = await startHarness({ now: clock.now, sms: { limits: null }, env: { SMS_PER_PHONE_PER_HOUR: '3', SMS_PER_PHONE_PER_DAY: '5', APPLY_PER_HOUR: '6' } });
  });
  afterAll(async () => h?.close());

  const smsTo = (phone: string) => h.sims.sms.messages().filter((m) => m.phone === phone);

  it('staff invitations to one visitor: 3 SMS an hour reach the phone, the rest are recorded as skipped', async () => {
    const target = newPhone('137');
    const host = await aStaff(h, 'zhangwei', { openid: newOpenid('bomber-host') });
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await anApplication(h, { by: host, visitor: { name: '目标', phone: target }, window: clock.window(1 + i) })).id);
    for (const id of ids) await settled(h, id);
    expect(smsTo(target)).toHaveLength(3);
    const rows = (await allNotifications(h)).filter((r) => r.phone === target && r.channel === 'sms');
    expect(rows.map((r) => r.status).sort()).toEqual(['sent', 'sent', 'sent', 'skipped', 'skipped']);
    expect(rows.filter((r) => r.status === 'skipped').every((r) => r.lastError === 'sms cap reached (phone-hour)')).toBe(true);
    // WeChat messages are not SMS: they still go.
    expect(rows.length).toBe(5);

    // The code route counts against the same cap: the phone gets no 4th SMS this hour.
    const { token: asker } = await anUnboundUser(h, newOpenid('asker'));
    const res = await h.request('POST', '/v1/sms/code', { token: asker, body: { phone: target } });
    const retry = expectRateLimited(res);
    expect(retry).toBeLessThanOrEqual(3600);
    expect(smsTo(target)).toHaveLength(3);

    // Per caller: APPLY_PER_HOUR=6 — the 7th application of the host this hour is refused.
    await anApplication(h, { by: host, visitor: { name: '目标', phone: newPhone() }, window: clock.window(9) });
    expectRateLimited(await postApplication(h, { by: host, visitor: { name: '目标', phone: newPhone() }, window: clock.window(10) }));

    // The next hour: 2 more (the day cap is 5), then nothing until tomorrow.
    clock.advance(3600);
    const host2 = await aStaff(h, 'lina', { openid: newOpenid('bomber-host2') });
    const more: number[] = [];
    for (let i = 0; i < 3; i++) more.push((await anApplication(h, { by: host2, visitor: { name: '目标', phone: target }, window: clock.window(1 + i) })).id);
    for (const id of more) await settled(h, id);
    expect(smsTo(target)).toHaveLength(5);
    const day = (await allNotifications(h)).filter((r) => r.phone === target && r.channel === 'sms' && more.includes(r.applicationId));
    expect(day.map((r) => r.lastError ?? 'sent').sort()).toEqual(['sent', 'sent', 'sms cap reached (phone-day)']);
  });

  it('visitor requests from many visitors to one host: the host gets at most the cap', async () => {
    const hostPhone = STAFF.wangfang.phone;
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const visitor = await aVisitor(h, { name: `访客${i}`, openid: newOpenid(`crowd${i}`) });
      ids.push((await anApplication(h, { by: visitor, host: STAFF.wangfang, window: clock.window(2) })).id);
    }
    for (const id of ids) await settled(h, id);
    expect(smsTo(hostPhone)).toHaveLength(3);
    // Each visitor still got their own "submitted" SMS: the cap is per target phone.
    const rows = (await allNotifications(h)).filter((r) => ids.includes(r.applicationId) && r.channel === 'sms' && r.phone !== hostPhone);
    expect(rows.map((r) => r.status)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
  });
});

describe('the global SMS cap, and the caps across replicas', () => {
  let h: Harness;
  const clock = alignedClock();
  let second: Database | null = null;
  beforeAll(async () => {
    h = await startHarness({ now: clock.now, sms: { limits: null }, env: { SMS_GLOBAL_PER_HOUR: '4' } });
  });
  afterAll(async () => {
    await second?.close();
    await h?.close();
  });

  it('invitations to many phones: 4 SMS an hour in all, the rest skipped with the reason', async () => {
    const host = await aStaff(h, 'zhangwei', { openid: newOpenid('g-host') });
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push((await anApplication(h, { by: host, visitor: { name: `客${i}`, phone: newPhone() }, window: clock.window(1) })).id);
    for (const id of ids) await settled(h, id);
    expect(h.sims.sms.messages()).toHaveLength(4);
    const sms = (await allNotifications(h)).filter((r) => r.channel === 'sms');
    expect(sms.filter((r) => r.status === 'skipped').map((r) => r.lastError)).toEqual(['sms cap reached (global-hour)', 'sms cap reached (global-hour)']);
  });

  it('two replicas (two connections to one database) sending at once to one phone: exactly the cap goes out', async () => {
    clock.advance(3600);
    // On PostgreSQL a second pool is a second replica's view of the database; PGlite is one process by nature.
    const url = h.runtime.config.databaseUrl;
    second = testDbKind() === 'pg' ? await openDatabase(url, { poolSize: 4 }) : null;
    const sims = h.sims.sms;
    const client = () =>
      createAliyunSmsClient({
        endpoint: sims.url,
        accessKeyId: sims.accessKeyId,
        accessKeySecret: sims.accessKeySecret,
        signName: '来访',
        timeoutMs: 5000,
        logger: createLogger('silent'),
      });
    const caps = { perPhonePerHour: 3, perPhonePerDay: 100, globalPerHour: 1000 };
    const replicas = [h.database, second ?? h.database].map((db) =>
      guardSms({ database: db, sms: client(), caps, secret: 'test-secret-test-secret-test-secret-0123456789', now: clock.now }),
    );
    const phone = newPhone('137');
    const before = sims.messages().length;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        replicas[i % 2]!.send({ phone, templateCode: 'approval_pass_to_visitor', params: { name: 'x', host: 'y', time: 'z' } }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    expect(outcomes.filter((o) => o.status === 'rejected').every((o) => (o as PromiseRejectedResult).reason instanceof SmsCapExceeded)).toBe(true);
    expect(sims.messages().length - before).toBe(3);
  });
});

describe('SMS cap configuration', () => {
  it('defaults 10 an hour and 30 a day per phone, 2000 an hour in all; bad values stop the start', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).smsCaps).toEqual({ perPhonePerHour: 10, perPhonePerDay: 30, globalPerHour: 2000 });
    expect(loadConfig({ NODE_ENV: 'test', SMS_PER_PHONE_PER_HOUR: '3', SMS_PER_PHONE_PER_DAY: '5', SMS_GLOBAL_PER_HOUR: '4' }).smsCaps).toEqual({
      perPhonePerHour: 3,
      perPhonePerDay: 5,
      globalPerHour: 4,
    });
    expect(() => loadConfig({ NODE_ENV: 'test', SMS_PER_PHONE_PER_HOUR: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'test', SMS_GLOBAL_PER_HOUR: 'lots' })).toThrow(ConfigError);
  });
});
