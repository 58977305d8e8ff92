import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, visitPasses } from '../../src/db/schema.js';
import { hashToken } from '../../src/modules/visits/passes.js';
import { newPhone, notificationsOf, settled } from '../helpers/apply.js';
import { STAFF } from '../helpers/harness.js';
import { device, expectFailure, invite, koalaVisitorsOf, signin, startDesk, type Desk } from './helpers.js';

const masked = (phone: string) => `${phone.slice(0, 3)}****${phone.slice(7)}`;

let d: Desk;
beforeAll(async () => {
  d = await startDesk();
});
afterAll(async () => {
  await d.close();
});

describe('kiosk sign-in (front-desk acceptance)', () => {
  it('a companion’s phone signs in the whole invitation: three Koala visitors, three passes, WeChat + SMS to each, the host told', async () => {
    const inv = await invite(d, { companions: 2 });
    const res = await signin(d, inv.companions[1]!.phone);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const data = res.body.data;
    expect(data).toMatchObject({
      id: inv.id,
      name: inv.visitor.name,
      phone: masked(inv.visitor.phone),
      qrcode: '',
      qrcode_img_url: '',
      interviewee: STAFF.zhangwei.name,
      start_time: inv.start_time,
      end_time: inv.end_time,
    });
    // Only the typed phone's own pass in full; the others by name and masked phone.
    expect(data.retinues.map((r: { name: string; phone: string }) => [r.name, r.phone])).toEqual([
      [inv.companions[0]!.name, masked(inv.companions[0]!.phone)],
      [inv.companions[1]!.name, inv.companions[1]!.phone],
    ]);
    expect(data.retinues[0].qrcode).toBe('');

    // Three passes (each person's, by signing in with their own phone): each qrcode is {"id": <application>, "qrcode": <token>}, tokens distinct and long.
    const ownPass = async (phone: string) => {
      const r = await signin(d, phone);
      expect(r.status).toBe(200);
      return [r.body.data, ...r.body.data.retinues].find((p: { phone: string }) => p.phone === phone) as {
        phone: string;
        qrcode: string;
        qrcode_img_url: string;
        subject_id: number | null;
      };
    };
    const people = [await ownPass(inv.visitor.phone), await ownPass(inv.companions[0]!.phone), data.retinues[1]];
    const tokens = people.map((p: { qrcode: string }) => {
      const q = JSON.parse(p.qrcode) as { id: number; qrcode: string };
      expect(Object.keys(q).sort()).toEqual(['id', 'qrcode']);
      expect(q.id).toBe(inv.id);
      expect(q.qrcode).toMatch(/^[A-Za-z0-9_-]{43}$/);
      return q.qrcode;
    });
    expect(new Set(tokens).size).toBe(3);
    // The database keeps hashes, never the tokens.
    const rows = await d.h.database.db.select().from(visitPasses).where(eq(visitPasses.applicationId, inv.id));
    expect(rows.map((r) => r.tokenHash).sort()).toEqual(tokens.map(hashToken).sort());
    expect(JSON.stringify(rows)).not.toContain(tokens[0]);

    // Three Koala visitors with the window and the host as interviewee. Written right after the
    // sign-in (a slow Koala leaves subject_id null in the answer and the job writes it: waited for).
    const koala = await d.h.waitFor(() => (koalaVisitorsOf(d, inv.id).length === 3 ? koalaVisitorsOf(d, inv.id) : null), { what: 'three Koala visitors' });
    expect(koala.map((v) => v.name).sort()).toEqual([inv.visitor.name, ...inv.companions.map((c) => c.name)].sort());
    for (const v of koala) expect(v).toMatchObject({ subject_type: 1, start_time: inv.start_time, end_time: inv.end_time, interviewee: STAFF.zhangwei.name });
    for (const p of people as Array<{ subject_id: number | null }>) expect(p.subject_id === null || koala.some((v) => v.id === p.subject_id)).toBe(true);

    // Each person: an SMS and a WeChat message with their own pass; the host: both, told of the arrival.
    const rowsOut = await settled(d.h, inv.id);
    const signinRows = rowsOut.filter((r) => r.event === 'visitor_signed_in');
    for (const p of people as Array<{ phone: string; qrcode_img_url: string }>) {
      const mine = signinRows.filter((r) => r.phone === p.phone);
      expect(mine.map((r) => `${r.channel}:${r.template}:${r.status}`).sort()).toEqual(['sms:signin_to_visitor:sent', 'wechat:signin_to_visitor:sent']);
      const wx = d.h.sims.cloud.messages().find((m) => m.phone === p.phone && m.tplMessageId === 'WX_TPL_SIGNIN_TO_VISITOR');
      // WeChat links to the visit's page; the SMS carries the pass's short code (its link is template text).
      expect(wx?.url).toBe(`http://laifang.test/h5/#/visit/${inv.id}`);
      const sms = d.h.sims.sms.messages().find((m) => m.phone === p.phone && m.template_code === 'SMS_TPL_SIGNIN_TO_VISITOR');
      expect(sms?.params.code).toMatch(/^[0-9A-Za-z]{12}$/);
    }
    const hostRows = signinRows.filter((r) => r.phone === STAFF.zhangwei.phone);
    expect(hostRows.map((r) => `${r.channel}:${r.template}`).sort()).toEqual(['sms:visitor_signin_to_employee', 'wechat:visitor_signin_to_employee']);
    expect(d.h.sims.sms.messages().some((m) => m.phone === STAFF.zhangwei.phone && m.template_code === 'SMS_TPL_VISITOR_SIGNIN_TO_EMPLOYEE')).toBe(true);

    // Audited, by the kiosk.
    const audit = await d.h.database.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.targetId, String(inv.id)));
    expect(audit.filter((a) => a.action === 'visit.signin').map((a) => a.actorKind)).toEqual(['device']);

    // Signing in again (the same phone) returns the same passes and changes nothing but the audit log.
    const koalaBefore = d.h.sims.koala.visitors().length;
    const notesBefore = (await notificationsOf(d.h, inv.id)).length;
    const again = await signin(d, inv.companions[1]!.phone);
    expect(again.status).toBe(200);
    const withoutSubjects = (v: { subject_id: unknown; retinues: Array<{ subject_id: unknown }> }) => ({
      ...v,
      subject_id: 0,
      retinues: v.retinues.map((r) => ({ ...r, subject_id: 0 })),
    });
    expect(withoutSubjects(again.body.data)).toEqual(withoutSubjects(data));
    const againPeople = [again.body.data, ...again.body.data.retinues] as Array<{ subject_id: number }>;
    expect(againPeople.map((p) => p.subject_id).sort()).toEqual(koala.map((v) => v.id).sort());
    expect(d.h.sims.koala.visitors().length).toBe(koalaBefore);
    expect((await notificationsOf(d.h, inv.id)).length).toBe(notesBefore);
    const auditAgain = await d.h.database.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.targetId, String(inv.id)));
    expect(auditAgain.filter((a) => a.action === 'visit.signin')).toHaveLength(1);
    // Each repeat (two to collect the passes, one more above) is audited with the masked phone.
    const repeats = auditAgain.filter((a) => a.action === 'visit.signin_repeat');
    expect(repeats.map((a) => (a.detail as { phone: string }).phone)).toEqual(
      [inv.visitor.phone, inv.companions[0]!.phone, inv.companions[1]!.phone].map(masked),
    );
    expect(repeats.every((a) => a.actorKind === 'device')).toBe(true);
  });

  it('concurrent sign-ins of one visit create one set of passes and one Koala visitor per person', async () => {
    const inv = await invite(d, { companions: 1 });
    const answers = await Promise.all([signin(d, inv.visitor.phone), signin(d, inv.companions[0]!.phone), signin(d, inv.visitor.phone)]);
    for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
    // Each answer shows the typed phone's pass: the two visitor answers the same one.
    expect(answers[0]!.body.data.qrcode).not.toBe('');
    expect(answers[2]!.body.data.qrcode).toBe(answers[0]!.body.data.qrcode);
    expect(answers[1]!.body.data.qrcode).toBe('');
    expect(answers[1]!.body.data.retinues[0].qrcode).not.toBe('');
    const rows = await d.h.database.db.select().from(visitPasses).where(eq(visitPasses.applicationId, inv.id));
    expect(rows).toHaveLength(2);
    await d.h.waitFor(() => koalaVisitorsOf(d, inv.id).length === 2, { what: 'two Koala visitors' });
    expect(koalaVisitorsOf(d, inv.id)).toHaveLength(2);
  });

  it('a Koala write that times out but lands anyway is adopted by the retry, not made twice', async () => {
    const inv = await invite(d, { companions: 0 });
    // Koala commits the visitor after our 2 s deadline: the client sees a timeout.
    d.h.sims.koala.server.addFault({
      delayMs: 2600,
      times: 1,
      match: (r) => r.method === 'POST' && r.path === '/subject' && (r.body as { phone?: string }).phone === inv.visitor.phone,
    });
    const first = await signin(d, inv.visitor.phone);
    expect(first.body.data.subject_id).toBeNull();
    const landed = await d.h.waitFor(
      async () => {
        const [row] = await d.h.database.db.select().from(visitPasses).where(eq(visitPasses.applicationId, inv.id));
        return row?.subjectId ?? null;
      },
      { timeoutMs: 30_000, what: 'the retry to record the subject' },
    );
    const mine = koalaVisitorsOf(d, inv.id);
    expect(mine.map((v) => v.id)).toEqual([landed]);
    expect(
      d.h.sims.koala.server.received.filter((r) => r.method === 'POST' && r.path === '/subject' && (r.body as { phone?: string }).phone === inv.visitor.phone),
    ).toHaveLength(1);
    expect((await signin(d, inv.visitor.phone)).body.data.subject_id).toBe(landed);
  });

  it('the pass picture is a PNG at an absolute, unguessable URL under PUBLIC_URL, kept out of shared caches', async () => {
    const inv = await invite(d, { companions: 0 });
    const data = (await signin(d, inv.visitor.phone)).body.data;
    const url = new URL(data.qrcode_img_url as string);
    expect(url.origin).toBe('http://laifang.test');
    expect(url.searchParams.get('k')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const img = await d.h.runtime.app.inject({ method: 'GET', url: url.pathname + url.search });
    expect(img.statusCode).toBe(200);
    expect(img.headers['content-type']).toBe('image/png');
    expect(img.headers['cache-control']).toBe('private, max-age=300');
    expect(img.rawPayload.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(img.rawPayload.length).toBeGreaterThan(300);
    // Another key, or none: not found (and no hint which part was wrong).
    const forged = await d.h.request('GET', `${url.pathname}?k=${'A'.repeat(22)}`);
    expectFailure(forged, 404, 'NOT_FOUND');
    expectFailure(await d.h.request('GET', url.pathname), 400, 'VALIDATION_FAILED');
    expectFailure(await d.h.request('GET', `/v1/visit/qrcode/999999.png${url.search}`), 404, 'NOT_FOUND');
  });
});

describe('sign-in refusals', () => {
  it('no application today for that phone: 404 with a Chinese message', async () => {
    expectFailure(await signin(d, newPhone()), 404, 'NOT_FOUND', '今天没有该手机号的访问预约');
    // The host's own phone is not a visitor's.
    const inv = await invite(d, { companions: 0, hoursFromNow: 0.1 });
    expect(inv.id).toBeGreaterThan(0);
    const host = await signin(d, STAFF.zhangwei.phone);
    expect(host.status).toBe(404);
  });

  it('a visitor request not yet authorized: 409 访问申请尚未授权; authorized: signs in', async () => {
    const phone = newPhone();
    const visitor = await d.h.bound(`wx-req-${phone}`, phone);
    const w = d.clock.window(0.1, 1);
    const applied = await d.h.request('POST', '/v1/subject', {
      token: visitor,
      body: { name: '访客甲', phone, interviewee: STAFF.zhangwei.name, interviewee_phone: STAFF.zhangwei.phone, ...w },
    });
    expect(applied.status).toBe(200);
    expectFailure(await signin(d, phone), 409, 'CONFLICT', '访问申请尚未授权');
    expect((await d.h.request('PUT', `/v1/auth/${applied.body.data.id}`, { token: d.host })).status).toBe(200);
    const ok = await signin(d, phone);
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({ id: applied.body.data.id, name: '访客甲', retinues: [] });
  });

  it('too early (beyond the lead time) and after the window: 409', async () => {
    // 10:00 in China, so that three hours on is still today there (the kiosk's "today"; from
    // 21:00 on, a visit three hours away is tomorrow's: 404).
    const toMorning = (((10 * 3600 - ((d.clock.nowSeconds() + 8 * 3600) % 86_400)) % 86_400) + 86_400) % 86_400;
    d.clock.advance(toMorning);
    try {
      const later = await invite(d, { companions: 0, hoursFromNow: 3 });
      const early = await signin(d, later.visitor.phone);
      expectFailure(early, 409, 'CONFLICT');
      expect(early.body.err_msg).toContain('30 分钟');
      const short = await invite(d, { companions: 0, hoursFromNow: 0.05, lengthHours: 0.1 });
      d.clock.advance(3600);
      try {
        expectFailure(await signin(d, short.visitor.phone), 409, 'CONFLICT', '访问时间已结束');
      } finally {
        d.clock.advance(-3600);
      }
    } finally {
      d.clock.advance(-toMorning);
    }
  });

  it('bad input: 400 naming the field', async () => {
    const bad = await signin(d, '12345');
    expectFailure(bad, 400, 'VALIDATION_FAILED');
    expect(bad.body.err_msg).toContain('phone');
    expectFailure(await d.h.request('POST', '/v1/visit/signin', { headers: device(d.kiosk), body: {} }), 400, 'VALIDATION_FAILED');
    expectFailure(
      await d.h.request('POST', '/v1/visit/signin', { headers: { ...device(d.kiosk), 'content-type': 'application/json' }, payload: '{"phone":' }),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('only a kiosk signs in: no credential or a phone session is 401, a turnstile 403, a revoked kiosk 401', async () => {
    const inv = await invite(d, { companions: 0 });
    expectFailure(await d.h.request('POST', '/v1/visit/signin', { body: { phone: inv.visitor.phone } }), 401, 'UNAUTHENTICATED');
    expectFailure(await d.h.request('POST', '/v1/visit/signin', { token: d.host, body: { phone: inv.visitor.phone } }), 401, 'UNAUTHENTICATED');
    expectFailure(await signin(d, inv.visitor.phone, d.turnstile), 403, 'FORBIDDEN');
    const spare = await d.h.runtime.devices.register({ name: '备用', kind: 'kiosk' });
    expect((await signin(d, inv.visitor.phone, spare.token)).status).toBe(200);
    await d.h.runtime.devices.revoke(spare.id);
    expectFailure(await signin(d, inv.visitor.phone, spare.token), 401, 'UNAUTHENTICATED');
  });
});
