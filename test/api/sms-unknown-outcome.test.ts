import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALREADY_SENT } from '../../src/modules/notifications/send.js';
import { newOpenid, newPhone, settled } from '../helpers/apply.js';
import { STAFF, startHarness, type Harness } from '../helpers/harness.js';

// An SMS whose first attempt reached Aliyun but whose answer was lost (a timeout after Aliyun
// accepted it, or a process killed before the outcome was recorded) is asked about with
// QuerySendDetails by its OutId before it is sent again: it reaches the phone once.

let h: Harness;
let hostToken: string;

beforeAll(async () => {
  h = await startHarness({ env: { UPSTREAM_TIMEOUT_MS: '1000', APPLY_PER_HOUR: '1000' }, sms: { limits: null } });
  hostToken = await h.bound(newOpenid('wx-host'), STAFF.zhangwei.phone);
});
afterAll(async () => {
  await h?.close();
});

async function invite(visitorPhone: string): Promise<number> {
  const start = Math.floor(Date.now() / 1000) + 3600;
  const res = await h.request('POST', '/v1/subject', {
    token: hostToken,
    body: {
      name: '王五',
      phone: visitorPhone,
      interviewee: STAFF.zhangwei.name,
      interviewee_phone: STAFF.zhangwei.phone,
      start_time: start,
      end_time: start + 7200,
    },
  });
  expect(res.status).toBe(200);
  return res.body.data.id as number;
}

describe('SMS with an unknown outcome', () => {
  it('accepted by Aliyun, answer lost: the retry asks QuerySendDetails and sends nothing twice', async () => {
    const phone = newPhone();
    const sendsTo = () => h.sims.sms.messages().filter((m) => m.phone === phone).length;
    // Aliyun takes the message, then answers after the client's deadline (1 s).
    const clear = h.sims.sms.server.addFault({
      afterHandling: true,
      delayMs: 1500,
      times: 1,
      match: (r) => r.headers['x-acs-action'] === 'SendSms' && r.query.PhoneNumbers === phone,
    });
    try {
      const id = await invite(phone);
      const rows = await settled(h, id, 20_000);
      const sms = rows.find((r) => r.channel === 'sms' && r.phone === phone)!;
      expect(sms).toMatchObject({ status: 'sent', providerRef: ALREADY_SENT });
      expect(sms.attempts).toBe(2);
      expect(sendsTo()).toBe(1);
      const asked = h.sims.sms.server.received.filter((r) => r.headers['x-acs-action'] === 'QuerySendDetails' && r.query.PhoneNumber === phone);
      expect(asked.length).toBeGreaterThanOrEqual(1);
    } finally {
      clear();
    }
  });

  it('refused for sure on the first attempt (HTTP 503): the retry asks, finds nothing, and sends once', async () => {
    const phone = newPhone();
    const clear = h.sims.sms.server.addFault({
      status: 503,
      times: 1,
      match: (r) => r.headers['x-acs-action'] === 'SendSms' && r.query.PhoneNumbers === phone,
    });
    try {
      const id = await invite(phone);
      const rows = await settled(h, id, 20_000);
      const sms = rows.find((r) => r.channel === 'sms' && r.phone === phone)!;
      expect(sms.status).toBe('sent');
      expect(sms.providerRef).not.toBe(ALREADY_SENT);
      expect(h.sims.sms.messages().filter((m) => m.phone === phone)).toHaveLength(1);
    } finally {
      clear();
    }
  });
});
