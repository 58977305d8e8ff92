import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../../src/db/schema.js';
import { notificationsOf } from '../helpers/apply.js';
import type { Desk } from './helpers.js';
import { aRequest, anInvitation, cancel, detail, moveTo, ok200, reject, startLifeDesk } from './life-helpers.js';

/**
 * Each new event is delivered exactly once, by SMS and WeChat, to the people it names; a double
 * tap sends nothing more; a visit moved twice tells its people twice (once per move).
 */
let d: Desk;
beforeAll(async () => {
  d = await startLifeDesk();
});
afterAll(async () => {
  await d?.close();
});

const idle = () => d.h.runtime.worker!.nextIdlePass();
type Template = keyof Desk['h']['runtime']['config']['templates']['sms'];
const smsTo = (phone: string, t: Template) =>
  d.h.sims.sms.messages().filter((m) => m.phone === phone && m.template_code === d.h.runtime.config.templates.sms[t]);
const wechatTo = (phone: string, t: Template) =>
  d.h.sims.cloud.messages().filter((m) => m.phone === phone && m.tplMessageId === d.h.runtime.config.templates.wechat[t]);

/**
 * Waits until `phone` got `n` SMS and `n` WeChat messages of `template` (more than `base`, what
 * it had before), then until nothing more is due, and checks it stayed `n`.
 */
async function delivered(phone: string, template: Template, n = 1, base = 0): Promise<void> {
  n += base;
  await d.h.waitFor(() => smsTo(phone, template).length >= n && wechatTo(phone, template).length >= n, { what: `${n} × ${template} to ${phone}` });
  await idle();
  expect(smsTo(phone, template)).toHaveLength(n);
  expect(wechatTo(phone, template)).toHaveLength(n);
}

async function auditCount(id: number, action: string): Promise<number> {
  const rows = await d.h.database.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.targetId, String(id)), eq(auditLog.action, action)));
  return rows.length;
}

describe('rejected', () => {
  it('the proposer is told once, with the reason; a double tap answers the same record and sends nothing more', async () => {
    const v = await aRequest(d);
    const reason = '本周不接待来访，请下周再约。'.repeat(5).slice(0, 60);
    const first = ok200(await reject(d, v.record.id, d.host, reason));
    expect(first).toMatchObject({ status: 'rejected', status_reason: reason, is_auth: 0 });
    const again = ok200(await reject(d, v.record.id, d.host, '另一个理由'));
    expect(again).toEqual(first);
    await delivered(v.visitor.phone, 'visit_rejected');
    const sms = smsTo(v.visitor.phone, 'visit_rejected')[0]!;
    for (const value of Object.values(sms.params)) expect([...value].length).toBeLessThanOrEqual(35);
    expect(sms.params.reason!.endsWith('…')).toBe(true);
    expect(sms.params.visitor).toBe('王五');
    const wx = wechatTo(v.visitor.phone, 'visit_rejected')[0]!;
    expect(wx.url).toMatch(new RegExp(`/h5/#/visit/${v.record.id}$`));
    // The five keyword lines WeChat shows, each within its 20 characters: what happened, and the
    // start of the reason (the whole reason is on the visit's page the message opens).
    const data = wx.data as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(['keyword1', 'keyword2', 'keyword3', 'keyword4', 'keyword5']);
    expect(data.keyword4).toBe('已拒绝');
    expect(data.keyword5).toBe(`原因：${reason.slice(0, 16)}…`);
    // Nobody else hears of it.
    expect(smsTo(v.companion.phone, 'visit_rejected')).toHaveLength(0);
    expect(await auditCount(v.record.id, 'visit.reject')).toBe(1);
  });
});

describe('cancelled', () => {
  it('by the visitor who proposed it: the host and the companion are told once, the visitor not', async () => {
    const v = await aRequest(d);
    ok200(await d.h.request('PUT', `/v1/auth/${v.record.id}`, { token: d.host }));
    const first = ok200(await cancel(d, v.record.id, v.visitor.token, { reason: '行程有变' }));
    expect(first).toMatchObject({ status: 'cancelled', status_reason: '行程有变', is_auth: 1 });
    expect(ok200(await cancel(d, v.record.id, v.visitor.token))).toEqual(first);
    await delivered(d.staff.phone, 'visit_cancelled');
    await delivered(v.companion.phone, 'visit_cancelled');
    expect(smsTo(v.visitor.phone, 'visit_cancelled')).toHaveLength(0);
    expect(await auditCount(v.record.id, 'visit.cancel')).toBe(1);
  });

  it('by the host: the visitor and the companion are told once; no reason reads 无', async () => {
    const v = await anInvitation(d);
    ok200(await cancel(d, v.record.id, d.host));
    await delivered(v.visitor.phone, 'visit_cancelled');
    await delivered(v.companion.phone, 'visit_cancelled');
    expect(smsTo(v.visitor.phone, 'visit_cancelled')[0]!.params.reason).toBe('无');
  });
});

describe('rescheduled', () => {
  it('by the host, twice: stays approved; the visitor and the companion are told of each move once', async () => {
    const v = await anInvitation(d);
    const w1 = d.clock.window(24, 2);
    const moved = ok200(await moveTo(d, v.record.id, d.host, w1));
    expect(moved).toMatchObject({ ...w1, status: 'approved', is_auth: 1 });
    expect(ok200(await moveTo(d, v.record.id, d.host, w1))).toEqual(moved); // the same window again: nothing
    await delivered(v.visitor.phone, 'visit_rescheduled');
    ok200(await moveTo(d, v.record.id, d.host, d.clock.window(48, 1)));
    await delivered(v.visitor.phone, 'visit_rescheduled', 2);
    await delivered(v.companion.phone, 'visit_rescheduled', 2);
    expect(smsTo(d.staff.phone, 'visit_rescheduled')).toHaveLength(0);
    expect(await auditCount(v.record.id, 'visit.reschedule')).toBe(2);
  });

  it('by the visitor who proposed it: back to pending, the host asked again; authorizing again tells the visitor again', async () => {
    await idle();
    const asked = smsTo(d.staff.phone, 'approval_reminder_to_employee').length;
    const v = await aRequest(d);
    ok200(await d.h.request('PUT', `/v1/auth/${v.record.id}`, { token: d.host }));
    await delivered(v.visitor.phone, 'approval_pass_to_visitor');
    await delivered(d.staff.phone, 'approval_reminder_to_employee', 1, asked);
    const w = d.clock.window(26, 1);
    const moved = ok200(await moveTo(d, v.record.id, v.visitor.token, w));
    expect(moved).toMatchObject({ ...w, status: 'pending', is_auth: 0, auth_time: null });
    await delivered(d.staff.phone, 'approval_reminder_to_employee', 2, asked);
    const again = ok200(await d.h.request('PUT', `/v1/auth/${v.record.id}`, { token: d.host }));
    expect(again).toMatchObject({ status: 'approved', is_auth: 1 });
    await delivered(v.visitor.phone, 'approval_pass_to_visitor', 2);
    const rows = await notificationsOf(d.h, v.record.id);
    expect(rows.filter((r) => r.event === 'request_authorized').map((r) => r.revision)).toEqual([0, 0, 1, 1]);
    const events = ok200(await detail(d, v.record.id, v.visitor.token)).timeline.map((e: { event: string; by: string }) => `${e.event}/${e.by}`);
    expect(events).toEqual(['applied/visitor', 'approved/host', 'rescheduled/visitor', 'approved/host']);
  });
});

describe('expired', () => {
  it('a request nobody decided: expired at the end of its window, the proposer told once, audited as the system', async () => {
    const v = await aRequest(d, { hoursFromNow: 0, lengthHours: 1 });
    d.clock.advance(3600 + 5);
    try {
      await d.h.waitFor(async () => ok200(await detail(d, v.record.id, v.visitor.token)).status === 'expired', { what: 'the request to expire' });
      await delivered(v.visitor.phone, 'visit_expired');
      expect(smsTo(d.staff.phone, 'visit_expired')).toHaveLength(0);
      const data = ok200(await detail(d, v.record.id, d.host));
      expect(data.timeline.at(-1)).toMatchObject({ event: 'expired', by: 'system' });
      expect(await auditCount(v.record.id, 'visit.expire')).toBe(1);
    } finally {
      d.clock.advance(-(3600 + 5));
    }
  });
});
