import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newOpenid, newPhone, settled, sleep } from '../helpers/apply.js';
import { STAFF, futureWindow, startHarness, type Harness } from '../helpers/harness.js';

// Sending gives way to answering (NOTIFY_YIELD_AT / NOTIFY_YIELD_RATE, src/jobs/notify-worker.ts):
// while the process answers that many requests at once, messages leave at that rate; the rest
// wait in the outbox and go once the requests are answered.

const YIELD_AT = 4;
const YIELD_RATE = 2;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { NOTIFY_YIELD_AT: String(YIELD_AT), NOTIFY_YIELD_RATE: String(YIELD_RATE), UPSTREAM_TIMEOUT_MS: '5000' }, sms: { limits: null } });
});
afterAll(async () => {
  await h?.close();
});

async function statuses(ids: number[]): Promise<string[]> {
  const rows = await h.runtime.database.query<{ status: string }>({ name: 'give-way-test-statuses', text: 'select status from notifications where application_id = any($1::bigint[])' }, [ids]);
  return rows.map((r) => r.status);
}

describe('sending gives way to answering', () => {
  it(`with ${YIELD_AT} requests in flight at most ${YIELD_RATE} messages a second leave; the rest follow once they are answered`, async () => {
    const host = STAFF.zhangwei;
    const staffToken = await h.bound(newOpenid('wx-give-way-host'), host.phone);
    const invite = () => h.request('POST', '/v1/subject', { token: staffToken, body: { name: '访客', phone: newPhone(), interviewee: host.name, interviewee_phone: host.phone, ...futureWindow() } });
    // The first invitation confirms the host with Koala (later ones are answered from memory).
    const first = await invite();
    expect(first.status).toBe(200);
    await settled(h, first.body.data.id);
    expect(h.runtime.load.inFlight()).toBe(0);

    // Requests held in flight: visitors asking for a host Koala is slow to look up.
    const removeFault = h.sims.koala.server.addFault({ delayMs: 2500, match: (r) => r.path.startsWith('/subject/list') && r.query.name === '慢慢' });
    let slow: Promise<Array<{ status: number }>> | null = null;
    try {
      const visitors = await Promise.all(
        Array.from({ length: YIELD_AT }, async () => {
          const phone = newPhone();
          return { phone, token: await h.bound(newOpenid('wx-give-way-visitor'), phone) };
        }),
      );
      slow = Promise.all(visitors.map((v) => h.request('POST', '/v1/subject', { token: v.token, body: { name: '访客', phone: v.phone, interviewee: '慢慢', interviewee_phone: '13912345678', ...futureWindow() } })));
      await h.waitFor(() => h.runtime.load.inFlight() >= YIELD_AT, { what: 'the slow requests in flight' });

      const started = Date.now();
      const made = await Promise.all(Array.from({ length: 10 }, invite));
      expect(made.map((r) => r.status)).toEqual(Array(10).fill(200));
      const ids = made.map((r) => r.body.data.id as number);
      await sleep(1000);
      const seconds = (Date.now() - started) / 1000;
      const during = await statuses(ids);
      expect(during).toHaveLength(20);
      const left = during.filter((s) => s !== 'pending').length;
      // One row every 1 / YIELD_RATE s (and one more at each boundary); the slow requests are still in flight.
      expect(h.runtime.load.inFlight()).toBeGreaterThanOrEqual(YIELD_AT);
      expect(left).toBeLessThanOrEqual(Math.ceil(seconds * YIELD_RATE) + 2);
      expect(left).toBeGreaterThanOrEqual(1);

      // Answered (Koala's slow answer: no such employee); the outbox then drains at full speed.
      expect((await slow).map((r) => r.status)).toEqual(Array(YIELD_AT).fill(404));
      slow = null;
      expect(h.runtime.load.inFlight()).toBe(0);
      // Each invitation: the visitor's SMS sent, and the WeChat message skipped (no binding).
      for (const id of ids) expect((await settled(h, id, 5000)).map((r) => `${r.channel}:${r.status}`).sort()).toEqual(['sms:sent', 'wechat:skipped']);
    } finally {
      removeFault();
      await slow;
    }
  });
});
