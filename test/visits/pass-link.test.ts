import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { visitPasses } from '../../src/db/schema.js';
import { hashToken } from '../../src/modules/visits/passes.js';
import { settled } from '../helpers/apply.js';
import { type Desk, device, expectFailure, invite, signin, startDesk } from './helpers.js';

/**
 * The pass by SMS (api-contract-frontdesk.md, "The pass by SMS"): the sign-in SMS carries a
 * short code, `/p/{code}` redirects to the H5 pass page, and the page reads that one pass by the
 * code without a session. A code that opens nothing is a page in Chinese, never a stack.
 */
let d: Desk;
beforeAll(async () => {
  d = await startDesk();
});
afterAll(async () => {
  await d?.close();
});

/** The short code each person's sign-in SMS carried. */
async function codesOf(applicationId: number, phones: string[]): Promise<string[]> {
  await settled(d.h, applicationId);
  return phones.map((phone) => {
    const sms = d.h.sims.sms.messages().find((m) => m.phone === phone && m.template_code === 'SMS_TPL_SIGNIN_TO_VISITOR');
    expect(sms, `the pass SMS to ${phone}`).toBeDefined();
    return sms!.params.code!;
  });
}

const get = (url: string) => d.h.runtime.app.inject({ method: 'GET', url });

describe('the pass by its SMS code', () => {
  it('/p/{code} redirects to the pass page; the code shows that one pass, without a session', async () => {
    const inv = await invite(d, { companions: 1 });
    const visitor = (await signin(d, inv.visitor.phone)).body.data;
    const companion = (await signin(d, inv.companions[0]!.phone)).body.data.retinues[0];
    const [vCode, cCode] = await codesOf(inv.id, [inv.visitor.phone, inv.companions[0]!.phone]);
    expect(vCode).toMatch(/^[0-9A-Za-z]{12}$/);
    expect(cCode).not.toBe(vCode);

    // Only the code's hash is kept.
    const rows = await d.h.database.db.select().from(visitPasses).where(eq(visitPasses.applicationId, inv.id));
    expect(rows.map((r) => r.linkHash).sort()).toEqual([vCode, cCode].map((c) => hashToken(c!)).sort());
    expect(JSON.stringify(rows)).not.toContain(vCode);

    const redirect = await get(`/p/${vCode}`);
    expect(redirect.statusCode).toBe(302);
    expect(redirect.headers.location).toBe(`/h5/#/pass?k=${vCode}`);
    expect(redirect.headers['cache-control']).toBe('no-store');

    const shown = await d.h.request('GET', `/v1/visit/pass/${vCode}`);
    expect(shown.status).toBe(200);
    expect(shown.body.data).toEqual({
      id: inv.id,
      name: inv.visitor.name,
      interviewee: d.staff.name,
      start_time: inv.start_time,
      end_time: inv.end_time,
      signin_time: visitor.signin_time,
      qrcode_img_url: visitor.qrcode_img_url,
    });
    // Nothing of anyone else: no phone at all, no other pass.
    expect(JSON.stringify(shown.body)).not.toContain(inv.visitor.phone);
    expect(JSON.stringify(shown.body)).not.toContain(inv.companions[0]!.name);
    const theirs = await d.h.request('GET', `/v1/visit/pass/${cCode}`);
    expect(theirs.body.data).toMatchObject({ name: inv.companions[0]!.name });
    expect(theirs.body.data.qrcode_img_url).not.toBe(visitor.qrcode_img_url);
    expect(theirs.body.data.qrcode_img_url).toBe(companion.qrcode_img_url);
  });

  it('an unknown or malformed code: a page in Chinese (404), and 404 / 400 in the envelope', async () => {
    for (const url of ['/p/AAAAAAAAAAAA', '/p/short', `/p/${'x'.repeat(40)}`, '/p/%E4%BD%A0%E5%A5%BD%E4%BD%A0%E5%A5%BD%E4%BD%A0%E5%A5%BD']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('链接无效');
      expect(res.body).not.toMatch(/Error|at \w+ \(/);
    }
    expectFailure(await d.h.request('GET', '/v1/visit/pass/AAAAAAAAAAAA'), 404, 'NOT_FOUND');
    expectFailure(await d.h.request('GET', '/v1/visit/pass/short'), 400, 'VALIDATION_FAILED');
  });

  it('once checked out, the code says the pass is over (410 page, PASS_EXPIRED), and asks nobody to sign in again', async () => {
    const inv = await invite(d, { companions: 0 });
    await signin(d, inv.visitor.phone);
    const [code] = await codesOf(inv.id, [inv.visitor.phone]);
    expect((await get(`/p/${code}`)).statusCode).toBe(302);
    const out = await d.h.request('POST', '/v1/visit/signout', { headers: device(d.kiosk), body: { id: inv.id } });
    expect(out.status).toBe(200);

    const page = await get(`/p/${code}`);
    expect(page.statusCode).toBe(410);
    expect(page.body).toContain('通行码已失效');
    expect(page.body).not.toContain('签到');
    const api = await d.h.request('GET', `/v1/visit/pass/${code}`);
    expectFailure(api, 403, 'PASS_EXPIRED');
    expect(api.body.err_msg).not.toContain('签到');
  });

  it('a window that has ended closes the code before the sweep checks the visit out', async () => {
    const inv = await invite(d, { companions: 0, lengthHours: 1 });
    await signin(d, inv.visitor.phone);
    const [code] = await codesOf(inv.id, [inv.visitor.phone]);
    expect((await d.h.request('GET', `/v1/visit/pass/${code}`)).status).toBe(200);
    d.clock.advance(2 * 3600);
    try {
      expectFailure(await d.h.request('GET', `/v1/visit/pass/${code}`), 403, 'PASS_EXPIRED');
      expect((await get(`/p/${code}`)).statusCode).toBe(410);
    } finally {
      d.clock.advance(-2 * 3600);
    }
  });
});
