import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { applicationBody, aStaff } from '../helpers/factories.js';
import { device, expectFailure, signin, type Desk } from './helpers.js';
import { aPerson, aRequest, anInvitation, cancel, detail, moveTo, ok200, reject, startLifeDesk } from './life-helpers.js';

/** Who may read and change a visit, the lists' new fields and filter, the pass on the visit's page. */
let d: Desk;
let stranger: string;
let otherStaff: string;
beforeAll(async () => {
  d = await startLifeDesk();
  stranger = (await aPerson(d, '路人')).token;
  otherStaff = (await aStaff(d.h, 'lina')).token;
});
afterAll(async () => {
  await d?.close();
});

describe('GET /v1/visit/{id}', () => {
  it('answers its proposer, host, visitor and companions; anyone else 404, no session 401, a bad id 400', async () => {
    const v = await aRequest(d);
    for (const token of [v.visitor.token, d.host, v.companion.token]) {
      const data = ok200(await detail(d, v.record.id, token));
      expect(data).toMatchObject({ id: v.record.id, status: 'pending', status_reason: '', pass: null });
      expect(data.timeline).toEqual([{ at: v.record.created_at, event: 'applied', by: 'visitor' }]);
    }
    expectFailure(await detail(d, v.record.id, stranger), 404, 'NOT_FOUND');
    expectFailure(await detail(d, v.record.id, otherStaff), 404, 'NOT_FOUND');
    expectFailure(await detail(d, 999_999_999, d.host), 404, 'NOT_FOUND');
    expectFailure(await d.h.request('GET', `/v1/visit/${v.record.id}`), 401, 'UNAUTHENTICATED');
    expectFailure(await detail(d, 'x' as unknown as number, d.host), 400, 'VALIDATION_FAILED');
  });

  it('shows each signed-in person their own pass (none to the host), the timeline through check-out', async () => {
    const v = await anInvitation(d, { hoursFromNow: 0 });
    ok200(await signin(d, v.visitor.phone));
    const mine = ok200(await detail(d, v.record.id, v.visitor.token));
    expect(mine.status).toBe('signed_in');
    expect(mine.pass).toMatchObject({ valid_from: v.record.start_time, valid_until: v.record.end_time });
    expect(JSON.parse(mine.pass.qrcode)).toMatchObject({ id: v.record.id });
    const scanned = await d.h.request('POST', '/v1/visit/qrcode', { headers: device(d.turnstile), body: { qrcode: mine.pass.qrcode } });
    expect(ok200(scanned).name).toBe(v.visitor.name);
    const companion = ok200(await detail(d, v.record.id, v.companion.token));
    expect(companion.pass.qrcode).not.toBe(mine.pass.qrcode);
    expect(ok200(await detail(d, v.record.id, d.host)).pass).toBeNull();
    ok200(await d.h.request('POST', '/v1/visit/signout', { token: d.host, body: { id: v.record.id } }));
    const out = ok200(await detail(d, v.record.id, v.visitor.token));
    expect(out).toMatchObject({ status: 'checked_out', pass: null });
    expect(out.timeline.map((e: { event: string; by: string }) => `${e.event}/${e.by}`)).toEqual([
      'applied/host',
      'approved/host',
      'signed_in/kiosk',
      'checked_out/host',
    ]);
  });
});

describe('who may change a visit', () => {
  it('reject: its host only; the visitor and a companion 403, anyone else 404; the reason 1–100 characters', async () => {
    const v = await aRequest(d);
    expectFailure(await reject(d, v.record.id, v.visitor.token), 403, 'FORBIDDEN');
    expectFailure(await reject(d, v.record.id, v.companion.token), 403, 'FORBIDDEN');
    expectFailure(await reject(d, v.record.id, stranger), 404, 'NOT_FOUND');
    expectFailure(await reject(d, v.record.id, otherStaff), 404, 'NOT_FOUND');
    expectFailure(await reject(d, v.record.id, d.host, ''), 400, 'VALIDATION_FAILED');
    expectFailure(await reject(d, v.record.id, d.host, '长'.repeat(101)), 400, 'VALIDATION_FAILED');
    expectFailure(await reject(d, v.record.id, d.host, '  '), 400, 'VALIDATION_FAILED');
    expectFailure(await d.h.request('POST', `/v1/visit/${v.record.id}/reject`, { token: d.host, body: {} }), 400, 'VALIDATION_FAILED');
    expectFailure(await d.h.request('POST', `/v1/visit/${v.record.id}/reject`, { body: { reason: 'x' } }), 401, 'UNAUTHENTICATED');
    expect(ok200(await detail(d, v.record.id, d.host)).status).toBe('pending');
    expect(ok200(await reject(d, v.record.id, d.host, '长'.repeat(100))).status).toBe('rejected');
  });

  it('cancel: the proposer or the host; a companion and an invited visitor 403, anyone else 404', async () => {
    const inv = await anInvitation(d);
    const invitedVisitor = await d.h.bound(`wx-inv-${inv.visitor.phone}`, inv.visitor.phone);
    expectFailure(await cancel(d, inv.record.id, invitedVisitor), 403, 'FORBIDDEN');
    expectFailure(await cancel(d, inv.record.id, inv.companion.token), 403, 'FORBIDDEN');
    expectFailure(await cancel(d, inv.record.id, stranger), 404, 'NOT_FOUND');
    expectFailure(await cancel(d, inv.record.id, d.host, { reason: '长'.repeat(101) }), 400, 'VALIDATION_FAILED');
    expect(ok200(await cancel(d, inv.record.id, d.host)).status).toBe('cancelled');
    const req = await aRequest(d);
    expect(ok200(await cancel(d, req.record.id, req.visitor.token, { reason: '改天' })).status_reason).toBe('改天');
  });

  it('a cancelled visit is not signed in at the kiosk', async () => {
    const inv = await anInvitation(d, { hoursFromNow: 0 });
    ok200(await cancel(d, inv.record.id, d.host));
    expectFailure(await signin(d, inv.visitor.phone), 404, 'NOT_FOUND');
  });

  it('move: the host or the visitor who proposed it; a companion and an invited visitor 403; the window as POST /v1/subject', async () => {
    const inv = await anInvitation(d);
    const invitedVisitor = await d.h.bound(`wx-inv-${inv.visitor.phone}`, inv.visitor.phone);
    const w = d.clock.window(5, 1);
    expectFailure(await moveTo(d, inv.record.id, invitedVisitor, w), 403, 'FORBIDDEN');
    expectFailure(await moveTo(d, inv.record.id, inv.companion.token, w), 403, 'FORBIDDEN');
    expectFailure(await moveTo(d, inv.record.id, stranger, w), 404, 'NOT_FOUND');
    const now = d.clock.nowSeconds();
    expectFailure(await moveTo(d, inv.record.id, d.host, { start_time: w.end_time, end_time: w.start_time }), 400, 'VALIDATION_FAILED');
    expectFailure(await moveTo(d, inv.record.id, d.host, { start_time: now - 7200, end_time: now - 3600 }), 400, 'VALIDATION_FAILED');
    expectFailure(await moveTo(d, inv.record.id, d.host, { start_time: now + 3600, end_time: now + 3600 + 25 * 3600 }), 400, 'VALIDATION_FAILED');
    expectFailure(await moveTo(d, inv.record.id, d.host, { start_time: now + 91 * 86_400, end_time: now + 91 * 86_400 + 3600 }), 400, 'VALIDATION_FAILED');
    expectFailure(await d.h.request('PUT', `/v1/visit/${inv.record.id}/time`, { token: d.host, body: { start_time: w.start_time } }), 400, 'VALIDATION_FAILED');
    expect(ok200(await moveTo(d, inv.record.id, d.host, w))).toMatchObject(w);
  });
});

describe('an Idempotency-Key answered before records had a status', () => {
  it('replays with the status it had then', async () => {
    const v = await aPerson(d, '孙八');
    const body = applicationBody({ by: v, host: d.staff, window: d.clock.window(2, 1) });
    const post = () => d.h.request('POST', '/v1/subject', { token: v.token, headers: { 'idempotency-key': 'k-before-status' }, body });
    const first = ok200(await post());
    await d.h.database.db.execute(
      sql`update idempotency_keys set response = response - 'status' - 'status_reason' - 'signin_time' - 'signout_time' where key = 'k-before-status'`,
    );
    expect(ok200(await post())).toEqual(first);
  });
});

describe('the record lists', () => {
  it('carry status, status_reason, signin_time and signout_time, and filter on one or several statuses', async () => {
    const mk = () => aRequest(d).then((v) => v.record.id);
    const pending = await mk();
    const rejected = await mk();
    ok200(await reject(d, rejected, d.host, '没空'));
    const list = async (q: string) => {
      const res = await d.h.request('GET', `/v1/visit/records?size=100${q}`, { token: d.host });
      return ok200(res) as Array<{ id: number; status: string; status_reason: string; signin_time: null; signout_time: null }>;
    };
    const all = await list('');
    expect(all.find((r) => r.id === rejected)).toMatchObject({ status: 'rejected', status_reason: '没空', signin_time: null, signout_time: null });
    const onlyPending = await list('&status=pending');
    expect(onlyPending.every((r) => r.status === 'pending')).toBe(true);
    expect(onlyPending.map((r) => r.id)).toContain(pending);
    expect(onlyPending.map((r) => r.id)).not.toContain(rejected);
    const both = (await list('&status=rejected,pending')).map((r) => r.id);
    expect(both).toEqual(expect.arrayContaining([pending, rejected]));
    expect((await list('&status=rejected&is_auth=0')).map((r) => r.id)).toContain(rejected);
    const bad = await d.h.request('GET', '/v1/visit/records?status=pending,done', { token: d.host });
    expectFailure(bad, 400, 'VALIDATION_FAILED');
    const mine = await d.h.request('GET', `/v1/auth/records?status=approved`, { token: otherStaff });
    expect(ok200(mine)).toEqual([]);
  });
});
