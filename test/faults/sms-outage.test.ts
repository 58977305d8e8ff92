import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { futureWindow, STAFF, startHarness, type Harness } from '../helpers/harness.js';

/**
 * Aliyun SMS answering 503 for a while (the acceptance says a minute; the back-off ceiling is
 * shrunk here from 60 s to 2 s so the test takes seconds): the API keeps answering, and once the
 * provider is back every notification is delivered, once, within about one ceiling.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { NOTIFY_RETRY_DELAY_S: '1', NOTIFY_RETRY_MAX_DELAY_S: '2', APPLY_PER_HOUR: '1000' }, sms: { limits: null } });
});
afterAll(async () => {
  await h?.close();
});

describe('SMS provider outage', () => {
  it('delivers every SMS soon after the provider recovers; the API never waits for it', async () => {
    const host = await h.bound('wx-outage-host', STAFF.zhangwei.phone);
    h.sims.sms.server.setFault({ status: 503, body: JSON.stringify({ Code: 'ServiceUnavailable', Message: 'down', RequestId: 'X' }) });

    const visitors = ['13900005001', '13900005002', '13900005003'];
    for (const [i, phone] of visitors.entries()) {
      const started = Date.now();
      const res = await h.request('POST', '/v1/subject', {
        token: host,
        body: { name: `访客${i}`, phone, interviewee: '张伟', interviewee_phone: STAFF.zhangwei.phone, ...futureWindow() },
      });
      expect(res.status).toBe(200);
      // The answer does not depend on the provider: no SMS call is on this path. A path that
      // waited for the SMS would wait through its retries (tens of seconds): the bound separates
      // the two on a loaded machine; it is not a performance figure (see bench/).
      expect(Date.now() - started).toBeLessThan(10_000);
      const list = await h.request('GET', '/v1/auth/records?size=10', { token: host });
      expect(list.status).toBe(200);
    }

    // Several failed attempts each while the provider is down.
    await h.waitFor(() => h.sims.sms.server.received.length >= 9, { timeoutMs: 20_000, what: 'retries during the outage' });
    expect(h.sims.sms.messages()).toHaveLength(0);

    h.sims.sms.server.setFault(null);
    const recovered = Date.now();
    // Back-off ceiling 2 s (+20 % jitter) plus the 0.5 s polling interval, with wide slack for a
    // busy machine: a missing back-off ceiling would leave retries minutes apart.
    await h.waitFor(() => h.sims.sms.messages().length >= visitors.length, { timeoutMs: 20_000, what: 'delivery after recovery' });
    const lag = Date.now() - recovered;
    expect(lag).toBeLessThan(20_000);
    // Nothing more follows: a claim pass that began after the deliveries found nothing due, and
    // every row claimed before it has ended (NotifyWorker.nextIdlePass).
    await h.runtime.worker!.nextIdlePass();
    expect(
      h.sims.sms
        .messages()
        .map((m) => m.phone)
        .sort(),
    ).toEqual(visitors);
  }, 60_000);
});
