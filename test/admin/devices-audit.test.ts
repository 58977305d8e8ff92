import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devices as devicesTable } from '../../src/db/schema.js';
import { newOpenid, newPhone, TestClock } from '../helpers/apply.js';
import { STAFF, startHarness, type Harness } from '../helpers/harness.js';
import { adminLogin, asDevice, expectError } from './helpers.js';

// docs/api-contract-frontdesk.md "Devices" and "Audit log".

let h: Harness;
const clock = new TestClock();
let admin: { token: string; id: number };

beforeAll(async () => {
  h = await startHarness({ now: clock.now, sms: { limits: null } });
  admin = await adminLogin(h);
}, 60_000);
afterAll(async () => {
  await h?.close();
});

describe('devices', () => {
  it('POST: the token is shown once; GET lists devices without tokens; only a hash is stored', async () => {
    const before = clock.nowSeconds();
    const res = await h.request('POST', '/v1/devices', { token: admin.token, body: { name: ' 大堂签到机 ', kind: 'kiosk' } });
    expect(res.status).toBe(200);
    const d = res.body.data;
    expect(d).toEqual({
      id: expect.any(Number),
      name: '大堂签到机',
      kind: 'kiosk',
      token: expect.stringMatching(/^dev_[A-Za-z0-9_-]{43}$/),
      created_at: expect.any(Number),
      revoked_at: null,
    });
    expect(d.created_at).toBeGreaterThanOrEqual(before);
    expect(d.created_at).toBeLessThanOrEqual(clock.nowSeconds());

    const listed = await h.request('GET', '/v1/devices', { token: admin.token });
    expect(listed.body.data).toEqual([{ id: d.id, name: '大堂签到机', kind: 'kiosk', created_at: d.created_at, revoked_at: null }]);
    expect(JSON.stringify(listed.body)).not.toContain(d.token);
    const rows = await h.database.db.select().from(devicesTable);
    expect(JSON.stringify(rows)).not.toContain(d.token.slice(4));

    // The token authenticates the kiosk: an unknown phone is the route's own answer, not 401.
    expect((await asDevice(h, 'POST', '/v1/visit/signin', d.token, { phone: newPhone() })).status).not.toBe(401);
  });

  it('bad bodies: 400', async () => {
    for (const body of [
      { name: 'x', kind: 'door' },
      { name: '', kind: 'kiosk' },
      { name: '   ', kind: 'kiosk' },
      { kind: 'kiosk' },
      { name: 'x'.repeat(65), kind: 'kiosk' },
      { name: 'x', kind: 'kiosk', token: 'mine' },
    ]) {
      expectError(await h.request('POST', '/v1/devices', { token: admin.token, body }), 400, 'VALIDATION_FAILED');
    }
  });

  it('DELETE revokes at once; again is fine; an unknown id is 404', async () => {
    const d = (await h.request('POST', '/v1/devices', { token: admin.token, body: { name: 'gate 2', kind: 'turnstile' } })).body.data;
    const check = () => asDevice(h, 'POST', '/v1/visit/qrcode', d.token, { qrcode: '{"id":1,"qrcode":"nope"}' });
    expect((await check()).status).not.toBe(401);
    clock.advance(5);
    const revokedFrom = clock.nowSeconds();
    expect((await h.request('DELETE', `/v1/devices/${d.id}`, { token: admin.token })).body).toEqual({
      code: 0,
      err_msg: '',
      data: { id: d.id, revoked: true },
    });
    expectError(await check(), 401, 'UNAUTHENTICATED');
    expect((await h.request('DELETE', `/v1/devices/${d.id}`, { token: admin.token })).status).toBe(200);
    expectError(await h.request('DELETE', '/v1/devices/999999', { token: admin.token }), 404, 'NOT_FOUND');
    const listed = (await h.request('GET', '/v1/devices', { token: admin.token })).body.data.find((x: { id: number }) => x.id === d.id);
    expect(listed.revoked_at).toBeGreaterThanOrEqual(revokedFrom);
    expect(listed.revoked_at).toBeLessThanOrEqual(clock.nowSeconds());

    const audit = await h.request('GET', `/v1/audit?target_type=device&target_id=${d.id}`, { token: admin.token });
    expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual(['device.revoke', 'device.register']);
    expect(audit.body.data[0]).toMatchObject({ actor_kind: 'admin', actor_id: String(admin.id) });
    expect(JSON.stringify(audit.body)).not.toContain(d.token);
  });
});

describe('audit log', () => {
  it('every authorization: a staff invitation and a host approving a request', async () => {
    const host = await h.bound('wx-audit-host', STAFF.zhangwei.phone);
    const visitorPhone = newPhone();
    const visitor = await h.bound(newOpenid(), visitorPhone);
    const start = clock.nowSeconds() + 3600;
    const inv = await h.request('POST', '/v1/subject', {
      token: host,
      body: { name: '受邀', phone: newPhone(), interviewee: '张伟', interviewee_phone: STAFF.zhangwei.phone, start_time: start, end_time: start + 3600 },
    });
    const req = await h.request('POST', '/v1/subject', {
      token: visitor,
      body: { name: '申请', phone: visitorPhone, interviewee: '张伟', interviewee_phone: STAFF.zhangwei.phone, start_time: start, end_time: start + 3600 },
    });
    expect([inv.status, req.status]).toEqual([200, 200]);
    const none = await h.request('GET', `/v1/audit?action=application.authorize&target_id=${req.body.data.id}`, { token: admin.token });
    expect(none.body.data).toEqual([]);
    const before = clock.nowSeconds();
    expect((await h.request('PUT', `/v1/auth/${req.body.data.id}`, { token: host })).status).toBe(200);
    const after = clock.nowSeconds();
    // Authorizing again changes nothing and is not audited twice.
    expect((await h.request('PUT', `/v1/auth/${req.body.data.id}`, { token: host })).status).toBe(200);

    const res = await h.request('GET', '/v1/audit?action=application.authorize', { token: admin.token });
    expect(res.body.data).toEqual([
      {
        id: expect.any(Number),
        at: expect.any(Number),
        actor_kind: 'staff',
        actor_id: STAFF.zhangwei.phone,
        actor_name: STAFF.zhangwei.name,
        action: 'application.authorize',
        target_type: 'application',
        target_name: expect.stringMatching(/ 拜访 /),
        target_id: String(req.body.data.id),
        detail: {},
      },
      {
        id: expect.any(Number),
        at: expect.any(Number),
        actor_kind: 'staff',
        actor_id: STAFF.zhangwei.phone,
        actor_name: STAFF.zhangwei.name,
        action: 'application.authorize',
        target_type: 'application',
        target_name: expect.stringMatching(/ 拜访 /),
        target_id: String(inv.body.data.id),
        detail: { via: 'invitation' },
      },
    ]);
    expect(res.body.data[0].at).toBeGreaterThanOrEqual(before);
    expect(res.body.data[0].at).toBeLessThanOrEqual(after);
  });

  it('newest first, paged, filtered by actor and time', async () => {
    const all = await h.request('GET', '/v1/audit?size=100', { token: admin.token });
    expect(all.status).toBe(200);
    const n = all.body.page.count as number;
    expect(n).toBeGreaterThanOrEqual(5);
    const ids = all.body.data.map((e: { id: number }) => e.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => b - a));
    const p2 = await h.request('GET', '/v1/audit?size=2&page=2', { token: admin.token });
    expect(p2.body.page).toEqual({ count: n, current: 2, size: 2, total: Math.ceil(n / 2) });
    expect(p2.body.data.map((e: { id: number }) => e.id)).toEqual(ids.slice(2, 4));
    const byAdmin = await h.request('GET', `/v1/audit?actor_kind=admin&actor_id=${admin.id}&size=100`, { token: admin.token });
    expect(byAdmin.body.data.every((e: { actor_kind: string; actor_id: string }) => e.actor_kind === 'admin' && e.actor_id === String(admin.id))).toBe(true);
    expect(byAdmin.body.data.map((e: { action: string }) => e.action)).toContain('admin.login');
    expect((await h.request('GET', `/v1/audit?start_time=${clock.nowSeconds() + 10}`, { token: admin.token })).body.data).toEqual([]);
  });

  it('bad parameters: 400', async () => {
    for (const q of ['size=0', 'size=101', 'page=x', 'start_time=1e3'])
      expectError(await h.request('GET', `/v1/audit?${q}`, { token: admin.token }), 400, 'VALIDATION_FAILED');
  });
});
