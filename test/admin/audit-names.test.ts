import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPhone, TestClock } from '../helpers/apply.js';
import { aDevice, anApplication, aStaff } from '../helpers/factories.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { adminLogin, expectError } from './helpers.js';

// The audit log in words (docs/api-contract-frontdesk.md "Audit log"): who by name, on what by name.

let h: Harness;
const clock = new TestClock();
let admin: { token: string; id: number; username: string };

beforeAll(async () => {
  h = await startHarness({ now: clock.now, sms: { limits: null } });
  admin = await adminLogin(h, 'audit-names-admin');
}, 60_000);
afterAll(async () => {
  await h?.close();
});

type Entry = {
  action: string;
  actor_kind: string;
  actor_id: string;
  actor_name: string | null;
  target_type: string;
  target_id: string;
  target_name: string | null;
};
const list = async (query: string) => {
  const res = await h.request('GET', `/v1/audit?size=100&${query}`, { token: admin.token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as Entry[];
};

describe('audit log in words', () => {
  it('names the admin, the device and the staff member who acted, and the record or device acted on', async () => {
    const device = await h.request('POST', '/v1/devices', { token: admin.token, body: { name: '二楼前台', kind: 'kiosk' } });
    const deviceId = String(device.body.data.id);
    const staff = await aStaff(h, 'zhangwei');
    const record = await anApplication(h, { by: staff, visitor: { name: '赵来访', phone: newPhone() }, window: clock.window(0, 2) });
    const kiosk = await aDevice(h, 'kiosk', '大堂签到机');
    const signin = await h.request('POST', '/v1/visit/signin', { headers: { authorization: `Device ${kiosk.token}` }, body: { phone: record.phone } });
    expect(signin.status, JSON.stringify(signin.body)).toBe(200);

    const registered = (await list('action=device.register')).find((e) => e.target_id === deviceId);
    expect(registered).toMatchObject({
      actor_kind: 'admin',
      actor_id: String(admin.id),
      actor_name: 'audit-names-admin',
      target_type: 'device',
      target_name: '二楼前台',
    });
    const login = (await list('action=admin.login'))[0];
    expect(login).toMatchObject({ actor_name: 'audit-names-admin' });
    const authorized = (await list(`action=application.authorize&target_id=${record.id}`))[0];
    expect(authorized).toMatchObject({ actor_kind: 'staff', actor_name: staff.name, target_type: 'application', target_name: `赵来访 拜访 ${staff.name}` });
    expect((await list(`action=visit.signin&target_id=${record.id}`))[0]).toMatchObject({ actor_kind: 'device', actor_name: '大堂签到机' });

    // Deleted since: no name, the id stays.
    await h.request('POST', `/v1/visit/records/${record.id}/signout`, { token: admin.token });
    await h.request('DELETE', `/v1/visit/records/${record.id}`, { token: admin.token });
    const after = (await list(`target_type=application&target_id=${record.id}`)).find((e) => e.action === 'application.authorize');
    expect(after).toMatchObject({ target_id: String(record.id), target_name: null });
  });

  it('filters by who acted: an admin by username, a device by name; by time range; a reversed range is a 400 in words', async () => {
    const other = await adminLogin(h, 'audit-names-other');
    await h.request('POST', '/v1/devices', { token: other.token, body: { name: '三楼闸机', kind: 'turnstile' } });
    const byOther = await list('actor=audit-names-other');
    expect(byOther.length).toBeGreaterThanOrEqual(2);
    expect(byOther.every((e) => e.actor_kind === 'admin' && e.actor_id === String(other.id))).toBe(true);
    expect(byOther.map((e) => e.action)).toEqual(expect.arrayContaining(['admin.login', 'device.register']));
    expect((await list('actor=%20audit-names-other%20')).length).toBe(byOther.length);
    const byKiosk = await list('actor=大堂签到机');
    expect(byKiosk.every((e) => e.actor_kind === 'device' && e.actor_name === '大堂签到机')).toBe(true);
    expect(await list('actor=nobody-by-that-name')).toEqual([]);

    const now = clock.nowSeconds();
    expect((await list(`start_time=${now - 3600}&end_time=${now + 10}&actor=audit-names-other`)).length).toBe(byOther.length);
    expect(await list(`start_time=${now + 10}&end_time=${now + 20}`)).toEqual([]);
    const reversed = await h.request('GET', `/v1/audit?start_time=${now}&end_time=${now - 1}`, { token: admin.token });
    expectError(reversed, 400, 'VALIDATION_FAILED');
    expect(reversed.body.err_msg).toContain('end_time');
  });
});
