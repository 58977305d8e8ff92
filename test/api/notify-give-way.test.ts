import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newOpenid, newPhone, settled, sleep } from '../helpers/apply.js';
import { STAFF, futureWindow, startHarness, type Harness } from '../helpers/harness.js';

// Sending gives way to answering (NOTIFY_YIELD_AT / NOTIFY_YIELD_RATE, src/modules/notifications/):
// while the process answers that many requests a second, messages leave at that rate; the rest
// wait in the outbox and go once the requests subside.

const YIELD_AT = 20; // requests a second
const YIELD_RATE = 2; // messages a second while giving way

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { NOTIFY_YIELD_AT: String(YIELD_AT), NOTIFY_YIELD_RATE: String(YIELD_RATE) }, sms: { limits: null } });
});
afterAll(async () => {
  await h?.close();
});

async function statuses(ids: number[]): Promise<string[]> {
  const rows = await h.runtime.database.query<{ status: string }>(
    { name: 'give-way-test-statuses', text: 'select status from notifications where application_id = any($1::bigint[])' },
    [ids],
  );
  return rows.map((r) => r.status);
}

describe('sending gives way to answering', () => {
  it(`above ${YIELD_AT} requests a second at most ${YIELD_RATE} messages a second leave; the rest follow once the requests subside`, async () => {
    const host = STAFF.zhangwei;
    const token = await h.bound(newOpenid('wx-give-way-host'), host.phone);
    const invite = () =>
      h.request('POST', '/v1/subject', {
        token,
        body: { name: '访客', phone: newPhone(), interviewee: host.name, interviewee_phone: host.phone, ...futureWindow() },
      });
    // The first invitation confirms the host with Koala (later ones are answered from memory).
    const first = await invite();
    expect(first.status).toBe(200);
    await settled(h, first.body.data.id);

    // A steady stream of cheap requests: about 100 a second (the pause paces the stream; nothing waits on it).
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        expect((await h.request('GET', '/healthz')).status).toBe(200);
        await sleep(10);
      }
    })();
    try {
      // The worker measures the rate over windows of at least 250 ms.
      await h.waitFor(() => h.runtime.load.perSecond() > YIELD_AT, { what: `more than ${YIELD_AT} requests a second measured` });
      expect(h.runtime.load.perSecond()).toBeGreaterThan(YIELD_AT);
      const started = Date.now();
      const made = await Promise.all(Array.from({ length: 10 }, invite));
      expect(made.map((r) => r.status)).toEqual(Array(10).fill(200));
      const ids = made.map((r) => r.body.data.id as number);
      // A few claims while giving way (one every 1 / YIELD_RATE s), and the first message out.
      const worker = h.runtime.worker!;
      const passes = worker.passes();
      await h.waitFor(async () => worker.passes() >= passes + 2 && (await statuses(ids)).some((s) => s !== 'pending'), {
        what: 'two claims while giving way and a first message out',
      });
      const seconds = (Date.now() - started) / 1000;
      const during = await statuses(ids);
      expect(during).toHaveLength(20);
      const left = during.filter((s) => s !== 'pending').length;
      // One row every 1 / YIELD_RATE s (and one more at each end).
      expect(left).toBeLessThanOrEqual(Math.ceil(seconds * YIELD_RATE) + 2);
      expect(left).toBeGreaterThanOrEqual(1);

      streaming = false;
      await stream;
      // The requests stopped: the outbox drains at full speed. Each invitation: the visitor's SMS
      // sent, and the WeChat message skipped (the visitor has no binding).
      for (const id of ids) expect((await settled(h, id, 5000)).map((r) => `${r.channel}:${r.status}`).sort()).toEqual(['sms:sent', 'wechat:skipped']);
    } finally {
      streaming = false;
      await stream;
    }
  });
});
