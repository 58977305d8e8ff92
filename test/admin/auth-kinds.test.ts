import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAFF, startHarness, type Harness } from '../helpers/harness.js';
import { adminLogin, asDevice, expectError } from './helpers.js';

// docs/api-contract-frontdesk.md "Authentication": phone sessions, devices and admins never mix.

let h: Harness;
let phone: string;
let admin: string;
let kiosk: string;
let turnstile: string;

const ADMIN_ROUTES: Array<[string, string, unknown?]> = [
  ['GET', '/v1/config/servers'],
  ['PUT', '/v1/config/servers', { cloud_url: 'http://evil.example' }],
  ['GET', '/v1/config/templates'],
  ['PUT', '/v1/config/templates', { signin_to_visitor: { sms: 'SMS_EVIL' } }],
  ['GET', '/v1/visit/records?type=web'],
  ['DELETE', '/v1/visit/records/1'],
  ['POST', '/v1/devices', { name: 'rogue', kind: 'kiosk' }],
  ['GET', '/v1/devices'],
  ['DELETE', '/v1/devices/1'],
  ['GET', '/v1/audit'],
  ['PUT', '/v1/admin/password', { old_password: 'x', new_password: 'y' }],
];
const DEVICE_ROUTES: Array<[string, string, unknown]> = [
  ['POST', '/v1/visit/signin', { phone: '13900000001' }],
  ['POST', '/v1/visit/qrcode', { qrcode: '{"id":1,"qrcode":"x"}' }],
];
const PHONE_ROUTES: Array<[string, string, unknown?]> = [
  ['GET', '/v1/visit/records'],
  ['GET', '/v1/auth/records'],
  ['GET', '/v1/subject/purpose'],
  ['PUT', '/v1/auth/1'],
];

beforeAll(async () => {
  h = await startHarness();
  phone = await h.bound('wx-kinds-staff', STAFF.zhangwei.phone);
  admin = (await adminLogin(h)).token;
  kiosk = (await h.runtime.devices.register({ name: 'lobby kiosk', kind: 'kiosk' })).token;
  turnstile = (await h.runtime.devices.register({ name: 'gate 1', kind: 'turnstile' })).token;
}, 60_000);
afterAll(async () => {
  await h?.close();
});

describe('admin routes', () => {
  it.each(ADMIN_ROUTES)('%s %s: 401 without credentials, with a phone session, and with a device token', async (method, url, body) => {
    expectError(await h.request(method, url, { body }), 401, 'UNAUTHENTICATED');
    expectError(await h.request(method, url, { body, token: phone }), 401, 'UNAUTHENTICATED');
    expectError(await asDevice(h, method, url, kiosk, body), 401, 'UNAUTHENTICATED');
    // A token that only looks like an admin token (forged signature).
    expectError(await h.request(method, url, { body, token: `${admin.slice(0, -4)}AAAA` }), 401, 'UNAUTHENTICATED');
  });

  it('nothing was changed by those attempts', async () => {
    const servers = await h.request('GET', '/v1/config/servers', { token: admin });
    expect(servers.body.data.cloud_url).not.toContain('evil');
    expect((await h.request('GET', '/v1/devices', { token: admin })).body.data.map((d: { name: string }) => d.name).sort()).toEqual(['gate 1', 'lobby kiosk']);
  });
});

describe('device routes', () => {
  it.each(DEVICE_ROUTES)('%s %s: 401 without credentials, with a phone session, and with an admin token', async (method, url, body) => {
    expectError(await h.request(method, url, { body }), 401, 'UNAUTHENTICATED');
    expectError(await h.request(method, url, { body, token: phone }), 401, 'UNAUTHENTICATED');
    expectError(await h.request(method, url, { body, token: admin }), 401, 'UNAUTHENTICATED');
    expectError(await asDevice(h, method, url, 'dev_' + 'A'.repeat(43), body), 401, 'UNAUTHENTICATED');
    expectError(await asDevice(h, method, url, 'not-a-token', body), 401, 'UNAUTHENTICATED');
  });

  it('a device of the wrong kind: 403 (a turnstile cannot sign visitors in)', async () => {
    expectError(await asDevice(h, 'POST', '/v1/visit/signin', turnstile, { phone: '13900000001' }), 403, 'FORBIDDEN');
  });

  it('a device token sent as Bearer is not a phone session', async () => {
    expectError(await h.request('POST', '/v1/visit/signin', { body: { phone: '13900000001' }, token: kiosk }), 401, 'UNAUTHENTICATED');
  });
});

describe('phone routes', () => {
  it.each(PHONE_ROUTES)('%s %s: 401 with a device token or an admin token, still 200/4xx-by-rule with the phone session', async (method, url, body) => {
    expectError(await asDevice(h, method, url, kiosk, body), 401, 'UNAUTHENTICATED');
    expectError(await h.request(method, url, { body, token: admin }), 401, 'UNAUTHENTICATED');
    expect((await h.request(method, url, { body, token: phone })).status).not.toBe(401);
  });
});

describe('revocation', () => {
  it('a revoked device token stops working at once (401), others keep working', async () => {
    const d = await h.runtime.devices.register({ name: 'temp kiosk', kind: 'kiosk' });
    const before = await asDevice(h, 'POST', '/v1/visit/signin', d.token, { phone: '13900000001' });
    expect(before.status).not.toBe(401);
    const res = await h.request('DELETE', `/v1/devices/${d.id}`, { token: admin });
    expect(res.status).toBe(200);
    expectError(await asDevice(h, 'POST', '/v1/visit/signin', d.token, { phone: '13900000001' }), 401, 'UNAUTHENTICATED');
    expect((await asDevice(h, 'POST', '/v1/visit/signin', kiosk, { phone: '13900000001' })).status).not.toBe(401);
  });
});
