import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newOpenid, newPhone, TestClock } from '../helpers/apply.js';
import { applicationBody, aVisitor, type Person } from '../helpers/factories.js';
import { STAFF, startHarness, type Harness, type Reply } from '../helpers/harness.js';

/**
 * The staff directory as an oracle: a visitor request (3.7) names its host by name and phone,
 * and 404 against 200 says whether the pair is a member of staff. Misses are limited per WeChat
 * user and per client address, counted before Koala is asked, and a miss does not say which of
 * name and phone is wrong.
 */

/** A clock frozen ten minutes into an hour: fixed windows cannot roll over mid-test. */
function alignedClock(): TestClock {
  const clock = new TestClock();
  const into = clock.now() % 3_600_000;
  clock.advance(Math.round(((600_000 - into + 3_600_000) % 3_600_000) / 1000));
  clock.freeze();
  return clock;
}

describe('guessing a staff member’s phone through visitor requests', () => {
  let h: Harness;
  const clock = alignedClock();
  beforeAll(async () => {
    h = await startHarness({ now: clock.now, env: { HOST_MISSES_PER_HOUR: '3', HOST_MISSES_PER_ADDRESS_PER_HOUR: '5' } });
  });
  afterAll(async () => h?.close());

  const koalaSearches = () => h.sims.koala.server.received.filter((r) => r.path.startsWith('/subject/list')).length;
  const koalaCalls = () => h.sims.koala.server.received.length;

  /** A visitor request naming host `name` / `phone`, from a client address. */
  async function ask(v: Person, host: { name: string; phone: string }, address = '127.0.0.1'): Promise<Reply> {
    const payload = applicationBody({ by: v, host, window: clock.window(1) });
    const res = await h.runtime.app.inject({
      method: 'POST',
      url: '/v1/subject',
      headers: { authorization: `Bearer ${v.token}` },
      payload,
      remoteAddress: address,
    });
    return { status: res.statusCode, body: JSON.parse(res.body), headers: res.headers as Reply['headers'] };
  }

  function expectLimited(res: Reply): void {
    expect(res.status, JSON.stringify(res.body)).toBe(429);
    expect(res.body).toMatchObject({ code: 429, error: 'RATE_LIMITED' });
    expect(res.body.err_msg).toMatch(/核对被访人失败的次数过多，请 \d+ 分钟后再试/);
    const seconds = Number(res.headers['retry-after']);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(3600);
  }

  it('3 misses an hour, then 429 without asking Koala, even for the right pair; a miss does not say what is wrong', async () => {
    const v = await aVisitor(h, { openid: newOpenid('prober') });
    const zhang = STAFF.zhangwei;
    const wrongPhone = await ask(v, { name: zhang.name, phone: newPhone('137') }, '10.0.0.1');
    const wrongName = await ask(v, { name: '张伟伟', phone: zhang.phone }, '10.0.0.1');
    const neither = await ask(v, { name: '无此人', phone: newPhone('137') }, '10.0.0.1');
    for (const res of [wrongPhone, wrongName, neither]) {
      expect(res.status).toBe(404);
      expect(res.body.error).toBe('STAFF_NOT_FOUND');
    }
    expect(new Set([wrongPhone, wrongName, neither].map((r) => r.body.err_msg)).size).toBe(1);

    const before = koalaCalls();
    expectLimited(await ask(v, { name: zhang.name, phone: newPhone('137') }, '10.0.0.1'));
    expectLimited(await ask(v, { name: zhang.name, phone: zhang.phone }, '10.0.0.2'));
    expect(koalaCalls()).toBe(before);

    // The next hour the visitor may try again.
    clock.advance(3600);
    expect((await ask(v, { name: zhang.name, phone: zhang.phone }, '10.0.0.3')).status).toBe(200);
  });

  it('a burst of parallel guesses: exactly the limit reaches Koala', async () => {
    const v = await aVisitor(h, { openid: newOpenid('burst') });
    const before = koalaSearches();
    const results = await Promise.all(Array.from({ length: 10 }, () => ask(v, { name: STAFF.lina.name, phone: newPhone('137') }, '10.1.0.1')));
    expect(results.map((r) => r.status).sort()).toEqual([404, 404, 404, 429, 429, 429, 429, 429, 429, 429]);
    expect(koalaSearches() - before).toBeLessThanOrEqual(3);
  });

  it('hosts found do not count; misses from one address count across WeChat users', async () => {
    clock.advance(3600);
    const v = await aVisitor(h, { openid: newOpenid('honest') });
    for (let i = 0; i < 4; i++) expect((await ask(v, STAFF.wangfang, '10.2.0.1')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await ask(v, { name: STAFF.wangfang.name, phone: newPhone('137') }, '10.2.0.1')).status).toBe(404);

    const others = [await aVisitor(h, { openid: newOpenid('nat-a') }), await aVisitor(h, { openid: newOpenid('nat-b') })];
    expect((await ask(others[0]!, { name: '无此人', phone: newPhone('137') }, '10.2.0.1')).status).toBe(404);
    expect((await ask(others[1]!, { name: '无此人', phone: newPhone('137') }, '10.2.0.1')).status).toBe(404);
    // 5 misses from 10.2.0.1 this hour: a third user there is refused; elsewhere it is not.
    expectLimited(await ask(others[1]!, { name: '无此人', phone: newPhone('137') }, '10.2.0.1'));
    expect((await ask(others[1]!, { name: '无此人', phone: newPhone('137') }, '10.2.0.9')).status).toBe(404);
  });

  it('Koala down is no miss: 503, and the allowance is intact afterwards', async () => {
    clock.advance(3600);
    const v = await aVisitor(h, { openid: newOpenid('outage') });
    h.sims.koala.server.setFault({ status: 503 });
    for (let i = 0; i < 4; i++) {
      const res = await ask(v, { name: STAFF.zhangwei.name, phone: newPhone('137') }, '10.3.0.1');
      expect(res.status, JSON.stringify(res.body)).toBe(503);
    }
    h.sims.koala.server.setFault(null);
    for (let i = 0; i < 3; i++) expect((await ask(v, { name: STAFF.zhangwei.name, phone: newPhone('137') }, '10.3.0.1')).status).toBe(404);
    expectLimited(await ask(v, { name: STAFF.zhangwei.name, phone: newPhone('137') }, '10.3.0.1'));
  });
});
