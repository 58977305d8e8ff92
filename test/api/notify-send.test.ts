import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { allNotifications, newPhone, settled } from '../helpers/apply.js';
import { STAFF, futureWindow, startHarness, testDbKind, type Harness } from '../helpers/harness.js';

// NOTIFY_SEND=false: a replica that answers requests and writes the outbox, but sends nothing;
// a replica with it on (here a second runtime on the same PostgreSQL database) sends.

describe.runIf(testDbKind() === 'pg')('NOTIFY_SEND=false (web-only replica)', () => {
  let h: Harness;
  let sender: Runtime | null = null;
  beforeAll(async () => {
    h = await startHarness({ env: { NOTIFY_SEND: 'false' }, sms: { limits: null } });
  });
  afterAll(async () => {
    await sender?.close();
    await h?.close();
  });

  it('writes the outbox and sends nothing; a sending replica on the same database sends each message once', async () => {
    expect(h.runtime.worker).toBeNull();
    const token = await h.bound('notify-send-host', STAFF.zhangwei.phone);
    const phones = [newPhone(), newPhone()];
    const ids: number[] = [];
    for (const phone of phones) {
      const res = await h.request('POST', '/v1/subject', {
        token,
        body: { name: '访客', phone, interviewee: STAFF.zhangwei.name, interviewee_phone: STAFF.zhangwei.phone, ...futureWindow() },
      });
      expect(res.status).toBe(200);
      ids.push(res.body.data.id);
    }
    // This replica runs no worker (asserted above), so there is no claim pass to wait for: the rows
    // are as the requests wrote them, pending and never claimed (attempts 0), and nothing has left.
    // That nothing here claims them later either shows below: the sender's claim is their first
    // attempt.
    const pending = await allNotifications(h);
    expect(pending.length).toBe(4);
    expect(pending.every((r) => r.status === 'pending' && r.attempts === 0)).toBe(true);
    expect(h.sims.sms.messages().filter((m) => phones.includes(m.phone))).toEqual([]);

    sender = await createRuntime({ ...h.runtime.config, notify: { ...h.runtime.config.notify, send: true } });
    const sent = [...(await settled(h, ids[0]!)), ...(await settled(h, ids[1]!))];
    expect(sent.map((r) => r.attempts)).toEqual([1, 1, 1, 1]);
    for (const phone of phones) expect(h.sims.sms.messages().filter((m) => m.phone === phone)).toHaveLength(1);
  });
});
