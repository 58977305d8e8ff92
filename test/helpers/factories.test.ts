import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  aDevice,
  aNewEmployee,
  anApplication,
  anAuthorizedVisit,
  anUnboundUser,
  applicationBody,
  aStaff,
  aVisitor,
  postApplication,
  type Staff,
} from './factories.js';
import { futureWindow, STAFF, startHarness, type Harness } from './harness.js';

/** The test kit's factories do what they say (the other tests lean on them). */

let h: Harness;
let employee: Staff;
beforeAll(async () => {
  h = await startHarness({ sms: { limits: null }, env: { APPLY_PER_HOUR: '100' } });
  // Before anything reads Koala's directory (the service remembers it for a while).
  employee = await aNewEmployee(h, { name: '新员工' });
});
afterAll(async () => {
  await h?.close();
});

const whoAmI = async (token: string) => (await h.request('GET', '/v1/wechat/is_binding', { token })).body;

describe('people', () => {
  it('aVisitor: a fresh phone bound to a fresh WeChat, with a session; overrides win', async () => {
    const v = await aVisitor(h);
    expect(v).toEqual({ name: '王五', phone: expect.stringMatching(/^139\d{8}$/), openid: expect.any(String), token: expect.any(String) });
    expect(h.sims.cloud.bindings()).toContainEqual(expect.objectContaining({ weixinUserId: v.openid, phone: v.phone }));
    const w = await aVisitor(h, { name: '赵六', phone: '13712345678', openid: 'wx-zhaoliu' });
    expect(w).toMatchObject({ name: '赵六', phone: '13712345678', openid: 'wx-zhaoliu' });
    expect(await whoAmI(w.token)).toMatchObject({ code: 0 });
  });

  it('anUnboundUser: a session and no phone', async () => {
    const u = await anUnboundUser(h);
    expect(h.sims.cloud.bindings().some((b) => b.weixinUserId === u.openid)).toBe(false);
    expect((await h.request('GET', '/v1/visitor/binding', { token: u.token })).body.data).toEqual({});
  });

  it('aStaff: a demo employee (张伟 by default) under a new WeChat each time', async () => {
    const a = await aStaff(h);
    const b = await aStaff(h);
    expect(a).toMatchObject({ name: STAFF.zhangwei.name, phone: STAFF.zhangwei.phone, subjectId: STAFF.zhangwei.subjectId });
    expect(a.openid).not.toBe(b.openid);
    expect((await aStaff(h, 'lina', { openid: 'wx-lina-fixed' })).openid).toBe('wx-lina-fixed');
    const profile = await h.request('GET', '/v1/subject/binding', { token: a.token });
    expect(profile.body.data).toMatchObject({ name: '张伟', phone: STAFF.zhangwei.phone });
  });

  it('aNewEmployee: added to Koala, bound, and staff to the service', async () => {
    const e = employee;
    expect(h.sims.koala.subjects().some((s) => s.id === e.subjectId && s.name === '新员工')).toBe(true);
    const rec = await anApplication(h, { by: e });
    expect(rec).toMatchObject({ is_auth: 1, interviewee: '新员工', interviewee_phone: e.phone, proposer: e.phone });
  });

  it('aDevice: a kiosk or turnstile token that the device routes accept', async () => {
    const kiosk = await aDevice(h, 'kiosk');
    const res = await h.request('POST', '/v1/visit/signin', { headers: { authorization: `Device ${kiosk.token}` }, body: { phone: '13900009999' } });
    expect(res.status).not.toBe(401);
  });
});

describe('applications', () => {
  it('by a visitor: a request to 张伟 by the visitor, pending', async () => {
    const v = await aVisitor(h, { name: '钱七' });
    const rec = await anApplication(h, { by: v });
    expect(rec).toMatchObject({ name: '钱七', phone: v.phone, proposer: v.phone, interviewee: '张伟', interviewee_phone: STAFF.zhangwei.phone, is_auth: 0 });
  });

  it('by staff: an invitation of a new 王五, authorized at once; companions by number or by name', async () => {
    const s = await aStaff(h, 'wangfang');
    const rec = await anApplication(h, { by: s, retinues: 2 });
    expect(rec).toMatchObject({ name: '王五', interviewee: '王芳', proposer: s.phone, is_auth: 1 });
    expect(rec.retinues.map((r) => r.name)).toEqual(['随行1', '随行2']);
    const named = await anApplication(h, { by: s, retinues: [{ name: '孙七', phone: '13900000077' }] });
    expect(named.retinues).toEqual([{ name: '孙七', phone: '13900000077' }]);
  });

  it('overrides win: host, visitor, window, any body field; headers are sent', async () => {
    const v = await aVisitor(h);
    const window = futureWindow(5, 1);
    const body = { purpose: 2, come_from: '某某公司', remark: '带电脑' };
    const rec = await anApplication(h, { by: v, host: STAFF.lina, window, body, headers: { 'idempotency-key': 'factory-key-1' } });
    expect(rec).toMatchObject({ interviewee: '李娜', ...window, ...body });
    const again = await anApplication(h, { by: v, host: STAFF.lina, window, body, headers: { 'idempotency-key': 'factory-key-1' } });
    expect(again.id).toBe(rec.id);
    expect(applicationBody({ by: v, body: { name: 'x' } }).name).toBe('x');
  });

  it('postApplication answers a refusal as it is', async () => {
    const v = await aVisitor(h);
    const res = await postApplication(h, { by: v, body: { interviewee_phone: '13800009999' } });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('STAFF_NOT_FOUND');
  });

  it('anAuthorizedVisit: an invitation, or a request its host authorized', async () => {
    const inv = await anAuthorizedVisit(h);
    expect(inv.record).toMatchObject({ is_auth: 1, proposer: inv.host.phone, phone: inv.visitor.phone });
    const req = await anAuthorizedVisit(h, { via: 'request', host: await aStaff(h, 'lina'), retinues: 1 });
    expect(req.record).toMatchObject({ is_auth: 1, proposer: req.visitor.phone, interviewee: '李娜' });
    expect(req.record.auth_time).toBeGreaterThan(0);
    expect(req.visitor.token).toEqual(expect.any(String));
  });
});
