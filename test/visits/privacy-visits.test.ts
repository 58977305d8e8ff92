import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminLogin } from '../admin/helpers.js';
import { device, expectFailure, invite, koalaVisitorsOf, signin, startDesk, type Desk } from './helpers.js';

/**
 * Erasing a phone (PIPL) must not leave a face in Koala: a visit in progress, or one whose Koala
 * visitors are not yet deleted, is refused until it is checked out; afterwards its passes go too.
 */
let d: Desk;
let admin: string;
beforeAll(async () => {
  d = await startDesk();
  admin = (await adminLogin(d.h)).token;
});
afterAll(async () => {
  await d?.close();
});

describe('erase during and after a visit', () => {
  it('refuses while the visitor is signed in, erases passes and all once checked out', async () => {
    const inv = await invite(d, { companions: 1 });
    expect((await signin(d, inv.companions[0]!.phone)).status).toBe(200);
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 2, { what: 'Koala visitors written' });

    const refused = await d.h.request('POST', '/v1/privacy/erase', { token: admin, body: { phone: inv.companions[0]!.phone } });
    expectFailure(refused, 409, 'CONFLICT');
    expect(koalaVisitorsOf(d, inv.id)).toHaveLength(2);

    const out = await d.h.request('POST', '/v1/visit/signout', { headers: device(d.kiosk), body: { id: inv.id } });
    expect(out.status, JSON.stringify(out.body)).toBe(200);
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 0, { what: 'Koala visitors deleted' });
    // The deletion is recorded just after Koala confirms it.
    const erased = await d.h.waitFor(
      async () => {
        const res = await d.h.request('POST', '/v1/privacy/erase', { token: admin, body: { phone: inv.companions[0]!.phone } });
        return res.status === 200 ? res : null;
      },
      { what: 'erase accepted after check-out' },
    );
    expect(erased.body.data).toMatchObject({ applications_deleted: 0, companion_entries_deleted: 1, passes_deleted: 1 });
    const left = await d.h.database.executor.executeSql('select phone from visit_passes where application_id = $1', [inv.id]);
    expect(left.rows.map((r) => (r as { phone: string }).phone)).toEqual([inv.visitor.phone]);
  });
});
