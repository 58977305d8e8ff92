import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, visitPasses } from '../../src/db/schema.js';
import { adminLogin } from '../admin/helpers.js';
import { expectFailure, invite, koalaVisitorsOf, signin, startDesk, type Desk } from './helpers.js';

let d: Desk;
let admin: { token: string; id: number };
beforeAll(async () => {
  d = await startDesk();
  admin = await adminLogin(d.h);
});
afterAll(async () => {
  await d.close();
});

const checkout = (id: number | string, token: string | null = admin.token) => d.h.request('POST', `/v1/visit/records/${id}/signout`, token ? { token } : {});

describe('check-out from the admin console (POST /v1/visit/records/{id}/signout)', () => {
  it("follows the kiosk's rules: 409 before sign-in, then passes revoked and Koala visitors deleted, audited as the admin", async () => {
    const inv = await invite(d, { companions: 1, hoursFromNow: 0 });
    expectFailure(await checkout(inv.id), 409, 'CONFLICT', '访客尚未签到');
    const data = (await signin(d, inv.visitor.phone)).body.data;
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 2, { what: 'two Koala visitors' });

    const res = await checkout(inv.id);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data).toMatchObject({ id: inv.id, signin_time: data.signin_time });
    const passes = await d.h.database.db.select().from(visitPasses).where(eq(visitPasses.applicationId, inv.id));
    expect(passes.every((p) => p.revokedAt !== null)).toBe(true);
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 0, { what: 'the Koala visitors to be deleted' });

    // Again: the first check-out's answer, no second audit entry.
    expect((await checkout(inv.id)).body.data).toEqual(res.body.data);
    const audit = await d.h.database.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.targetId, String(inv.id)))
      .orderBy(asc(auditLog.id));
    expect(audit.filter((a) => a.action === 'visit.signout').map((a) => [a.actorKind, a.actorId, a.targetType, a.detail])).toEqual([
      ['admin', String(admin.id), 'application', { passes: 2 }],
    ]);
  });

  it('admins only: a phone session, a kiosk or no credential is refused; unknown ids are 404, bad ids 400', async () => {
    const inv = await invite(d, { companions: 0, hoursFromNow: 0 });
    const signed = await signin(d, inv.visitor.phone);
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    expectFailure(await checkout(inv.id, d.host), 401, 'UNAUTHENTICATED');
    expectFailure(
      await d.h.request('POST', `/v1/visit/records/${inv.id}/signout`, { headers: { authorization: `Device ${d.kiosk}` } }),
      401,
      'UNAUTHENTICATED',
    );
    expectFailure(await checkout(inv.id, null), 401, 'UNAUTHENTICATED');
    expectFailure(await checkout(999_999), 404, 'NOT_FOUND');
    expectFailure(await checkout('x'), 400, 'VALIDATION_FAILED');
    const audit = await d.h.database.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.targetId, String(inv.id)));
    expect(audit.filter((a) => a.action === 'visit.signout')).toEqual([]);
  });
});
