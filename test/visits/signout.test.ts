import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applications, auditLog, visitPasses } from '../../src/db/schema.js';
import { STAFF } from '../helpers/harness.js';
import { device, expectFailure, invite, koalaAttempts, koalaVisitorsOf, passIdsOf, scan, signin, startDesk, type Desk } from './helpers.js';

let d: Desk;
beforeAll(async () => {
  // Koala's deadline above the 2 s a sign-in waits for it, so that a slow Koala can be told apart.
  d = await startDesk({ env: { KOALA_TIMEOUT_MS: '6000' } });
});
afterAll(async () => {
  await d.close();
});

const signout = (id: number, auth: { kiosk?: string; session?: string }) =>
  d.h.request('POST', '/v1/visit/signout', {
    ...(auth.kiosk ? { headers: device(auth.kiosk) } : {}),
    ...(auth.session ? { token: auth.session } : {}),
    body: { id },
  });

const auditOf = async (id: number) =>
  (
    await d.h.database.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.targetId, String(id)))
      .orderBy(asc(auditLog.id))
  ).map((a) => `${a.actorKind}:${a.action}`);

describe('check-out (front-desk acceptance)', () => {
  it('by the kiosk: passes revoked, Koala visitors deleted, audited; a second check-out changes nothing', async () => {
    const inv = await invite(d, { companions: 2, hoursFromNow: 0 });
    const data = (await signin(d, inv.companions[0]!.phone)).body.data;
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 3, { what: 'three Koala visitors' });

    const before = d.clock.nowSeconds();
    const res = await signout(inv.id, { kiosk: d.kiosk });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data).toMatchObject({ id: inv.id, signin_time: data.signin_time });
    expect(res.body.data.signout_time).toBeGreaterThanOrEqual(before);
    expect(res.body.data.signout_time).toBeLessThanOrEqual(d.clock.nowSeconds());
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 0, { what: 'the Koala visitors to be deleted' });
    const passes = await d.h.database.db.select().from(visitPasses).where(eq(visitPasses.applicationId, inv.id));
    expect(passes.every((p) => p.revokedAt !== null)).toBe(true);
    await d.h.waitFor(
      async () => (await d.h.database.db.select().from(visitPasses).where(eq(visitPasses.applicationId, inv.id))).every((p) => p.subjectDeletedAt !== null),
      { what: 'deletions recorded' },
    );

    const again = await signout(inv.id, { kiosk: d.kiosk });
    expect(again.body.data).toEqual(res.body.data);
    expect((await auditOf(inv.id)).filter((a) => a.includes(':visit.'))).toEqual(['device:visit.signin', 'device:visit.signout']);

    // The pass picture is gone, and signing in again is refused.
    const img = new URL(data.retinues[0].qrcode_img_url as string);
    expectFailure(await d.h.request('GET', img.pathname + img.search), 404, 'NOT_FOUND');
    expectFailure(await signin(d, inv.visitor.phone), 409, 'CONFLICT', '本次访问已签退');
  });

  it('by the host’s phone session; anyone else’s session is 404, a turnstile 403, no credential 401', async () => {
    const inv = await invite(d, { companions: 0, hoursFromNow: 0 });
    expectFailure(await signout(inv.id, { kiosk: d.kiosk }), 409, 'CONFLICT', '访客尚未签到');
    await signin(d, inv.visitor.phone);
    const other = await d.h.bound('wx-host-lina', STAFF.lina.phone);
    const visitorSession = await d.h.bound(`wx-${inv.visitor.phone}`, inv.visitor.phone);
    expectFailure(await signout(inv.id, { session: other }), 404, 'NOT_FOUND');
    expectFailure(await signout(inv.id, { session: visitorSession }), 404, 'NOT_FOUND');
    expectFailure(await signout(inv.id, { kiosk: d.turnstile }), 403, 'FORBIDDEN');
    expectFailure(await d.h.request('POST', '/v1/visit/signout', { body: { id: inv.id } }), 401, 'UNAUTHENTICATED');
    expectFailure(await signout(999_999, { kiosk: d.kiosk }), 404, 'NOT_FOUND');
    expectFailure(await d.h.request('POST', '/v1/visit/signout', { headers: device(d.kiosk), body: { id: 'x' } }), 400, 'VALIDATION_FAILED');

    const res = await signout(inv.id, { session: d.host });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await auditOf(inv.id)).toContain('staff:visit.signout');
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 0, { what: 'the Koala visitor to be deleted' });
  });

  it('automatic at the end of the window: checked out, Koala visitors deleted, audited as the system', async () => {
    const inv = await invite(d, { companions: 1, hoursFromNow: 0, lengthHours: 1 });
    const data = (await signin(d, inv.visitor.phone)).body.data;
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 2, { what: 'two Koala visitors' });
    d.clock.advance(3600 + 5);
    try {
      await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 0, { what: 'automatic check-out to delete the Koala visitors' });
      const [row] = await d.h.database.db.select().from(applications).where(eq(applications.id, inv.id));
      expect(row!.signoutTime).toBeGreaterThanOrEqual(inv.end_time);
      expect(await auditOf(inv.id)).toContain('system:visit.auto_signout');
      expectFailure(await scan(d, data.qrcode), 403, 'PASS_EXPIRED');
    } finally {
      d.clock.advance(-(3600 + 5));
    }
  });
});

describe('Koala down', () => {
  it('at sign-in: passes at once with subject_id null; the Koala visitors land after recovery', async () => {
    const inv = await invite(d, { companions: 1, hoursFromNow: 0 });
    const down = d.h.sims.koala.server.addFault({ status: 503, match: (r) => r.method === 'POST' && r.path === '/subject' });
    let data: any;
    try {
      const res = await signin(d, inv.companions[0]!.phone);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      data = res.body.data;
      expect([data.subject_id, data.retinues[0].subject_id]).toEqual([null, null]);
      // The job tries (and fails) at least once more while Koala is down.
      const jobFailed = koalaAttempts(d, await passIdsOf(d, inv.id), 'create', 'retry');
      // The pass works at the door without Koala.
      expect((await scan(d, data.retinues[0].qrcode)).status).toBe(200);
      await jobFailed;
      expect(koalaVisitorsOf(d, inv.id)).toHaveLength(0);
    } finally {
      down();
    }
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 2, { timeoutMs: 20_000, what: 'the Koala visitors after recovery' });
    for (const v of koalaVisitorsOf(d, inv.id))
      expect(v).toMatchObject({ start_time: inv.start_time, end_time: inv.end_time, interviewee: STAFF.zhangwei.name });
    // Signing in again shows the subjects now, with the same passes.
    const again = (await signin(d, inv.companions[0]!.phone)).body.data;
    expect(again.retinues[0].qrcode).toBe(data.retinues[0].qrcode);
    expect([again.subject_id, again.retinues[0].subject_id].sort()).toEqual(
      koalaVisitorsOf(d, inv.id)
        .map((v) => v.id)
        .sort(),
    );
  });

  it('slow at sign-in: the kiosk gets its answer after 2 s; the write lands later, once per person (the job does not repeat it)', async () => {
    const inv = await invite(d, { companions: 1, hoursFromNow: 0 });
    const before = d.h.sims.koala.server.received.filter((r) => r.method === 'POST' && r.path === '/subject').length;
    d.h.sims.koala.server.addFault({ delayMs: 5000, times: 2, match: (r) => r.method === 'POST' && r.path === '/subject' });
    const started = Date.now();
    const res = await signin(d, inv.visitor.phone);
    const took = Date.now() - started;
    // The queued job runs meanwhile (after 1 s) and finds the passes held; its next attempt, after
    // the slow writes, finds them written: no second write.
    const jobsDone = koalaAttempts(d, await passIdsOf(d, inv.id), 'create', 'done');
    expect(res.status).toBe(200);
    expect([res.body.data.subject_id, res.body.data.retinues[0].subject_id]).toEqual([null, null]);
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(4800);
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 2, { what: 'the slow writes to land' });
    await jobsDone;
    expect(koalaVisitorsOf(d, inv.id)).toHaveLength(2);
    expect(d.h.sims.koala.server.received.filter((r) => r.method === 'POST' && r.path === '/subject').length - before).toBe(2);
  });

  it('a write that timed out but landed after all, checked out before any retry: that visitor is deleted too', async () => {
    const inv = await invite(d, { companions: 0, hoursFromNow: 0 });
    // Koala commits the visitor after our 6 s deadline: we never learn its id.
    d.h.sims.koala.server.addFault({
      delayMs: 6500,
      times: 1,
      match: (r) => r.method === 'POST' && r.path === '/subject' && (r.body as { phone?: string }).phone === inv.visitor.phone,
    });
    expect((await signin(d, inv.visitor.phone)).body.data.subject_id).toBeNull();
    expect((await signout(inv.id, { kiosk: d.kiosk })).status).toBe(200);
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 1, { what: 'the late write to land' });
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 0, { timeoutMs: 20_000, what: 'the unrecorded visitor to be deleted' });
  });

  it('at check-out: the deletion is retried until Koala is back', async () => {
    const inv = await invite(d, { companions: 0, hoursFromNow: 0 });
    await signin(d, inv.visitor.phone);
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 1, { what: 'the Koala visitor' });
    const down = d.h.sims.koala.server.addFault({ status: 0, match: (r) => r.method === 'DELETE' });
    try {
      expect((await signout(inv.id, { kiosk: d.kiosk })).status).toBe(200);
      await d.h.waitFor(() => d.h.sims.koala.server.received.filter((r) => r.method === 'DELETE').length >= 2, { what: 'two failed deletions' });
      expect(koalaVisitorsOf(d, inv.id)).toHaveLength(1);
    } finally {
      down();
    }
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 0, { timeoutMs: 20_000, what: 'deletion after recovery' });
  });

  it('at check-out, and the record is deleted by an admin meanwhile: the Koala visitor is still deleted after recovery', async () => {
    const inv = await invite(d, { companions: 0, hoursFromNow: 0 });
    await signin(d, inv.visitor.phone);
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 1, { what: 'the Koala visitor' });
    await d.h.runtime.admins.create({ username: 'desk-admin', password: 'desk-admin-password' });
    const login = await d.h.request('POST', '/v1/admin/session', { body: { username: 'desk-admin', password: 'desk-admin-password' } });
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    const down = d.h.sims.koala.server.addFault({ status: 503, match: (r) => r.method === 'DELETE' });
    try {
      expect((await signout(inv.id, { kiosk: d.kiosk })).status).toBe(200);
      const deleted = await d.h.request('DELETE', `/v1/visit/records/${inv.id}`, { token: login.body.data.token as string });
      expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
      expect(await d.h.database.db.select().from(visitPasses).where(eq(visitPasses.applicationId, inv.id))).toHaveLength(0);
    } finally {
      down();
    }
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 0, { timeoutMs: 20_000, what: 'deletion of the orphaned Koala visitor' });
  });

  it('through sign-in and check-out: the visitor is never written to Koala afterwards', async () => {
    const inv = await invite(d, { companions: 0, hoursFromNow: 0 });
    const down = d.h.sims.koala.server.addFault({ status: 503, match: (r) => r.method === 'POST' && r.path === '/subject' });
    let jobsDone: Promise<unknown> = Promise.resolve();
    try {
      expect((await signin(d, inv.visitor.phone)).body.data.subject_id).toBeNull();
      // The create job (due 1 s after the sign-in) finds the pass revoked and ends; the deletion ends too.
      const passIds = await passIdsOf(d, inv.id);
      jobsDone = Promise.all([koalaAttempts(d, passIds, 'create', 'done'), koalaAttempts(d, passIds, 'delete', 'done')]);
      expect((await signout(inv.id, { kiosk: d.kiosk })).status).toBe(200);
    } finally {
      down();
    }
    await jobsDone;
    expect(koalaVisitorsOf(d, inv.id)).toHaveLength(0);
  });
});
