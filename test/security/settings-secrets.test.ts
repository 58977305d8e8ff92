import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKoalaSimulator, type KoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { startWechatCloudSimulator, type WechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { LOGIN_LIMITS } from '../../src/modules/admin/login-limit.js';
import { STAFF, startHarness, type Harness } from '../helpers/harness.js';
import { adminLogin, expectError } from '../admin/helpers.js';

/**
 * An admin token cannot redirect a secret (docs/RELIABILITY.md "Attacks"): the Koala password
 * is never shown, so pointing `koala_url` at one's own host must not make the service log in
 * there with it; and the cloud service answers every binding lookup (who is which phone), so
 * pointing `cloud_url` elsewhere needs the admin's own password, not just a token.
 */

let h: Harness;
let admin: { token: string; id: number; username: string; password: string };
let staff: string;
let rogueKoala: KoalaSimulator;
let rogueCloud: WechatCloudSimulator;

const putServers = (body: unknown, token = admin.token) => h.request('PUT', '/v1/config/servers', { token, body });
const getServers = async () => (await h.request('GET', '/v1/config/servers', { token: admin.token })).body.data;
/** 3.1 re-reads the employee from Koala: one call to the Koala in force, finished when it answers. */
const koalaCall = async () => expect((await h.request('GET', '/v1/subject/binding', { token: staff })).status).toBe(200);
let unbound = 0;
/** 3.6 asks the cloud service in force who the caller is (a WeChat never seen before: nothing cached). */
const cloudCall = async () => h.request('GET', '/v1/wechat/is_binding', { token: await h.session(`wx-secrets-new-${++unbound}`) });

beforeAll(async () => {
  [rogueKoala, rogueCloud] = await Promise.all([
    // Accepts any login: had the service sent the stored password, the rogue would have it.
    startKoalaSimulator({ username: 'rogue', password: 'rogue-password-1' }),
    startWechatCloudSimulator(),
  ]);
  h = await startHarness();
  admin = await adminLogin(h);
  staff = await h.bound('wx-secrets-staff', STAFF.zhangwei.phone);
}, 60_000);
afterAll(async () => {
  await h?.close();
  await Promise.all([rogueKoala?.close(), rogueCloud?.close()]);
});

describe('koala_url', () => {
  it('a new address without the Koala password is 400; the stored password never reaches it', async () => {
    const before = await getServers();
    for (const body of [
      { koala_url: rogueKoala.url },
      { koala_url: rogueKoala.url, koala_password: '******' },
      { koala_url: `${rogueKoala.url}/`, koala_username: 'rogue' },
      { koala_url: rogueKoala.url, koala_password: '' },
    ]) {
      const res = await putServers(body);
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.err_msg).toContain('koala_password');
      expect(res.body.err_msg).toContain('Koala 密码');
    }
    expect(await getServers()).toEqual(before);
    await koalaCall();
    expect(rogueKoala.server.received).toEqual([]);
    expect(h.sims.koala.server.received.length).toBeGreaterThan(0);
  });

  it('the address in force sent again (as the console does) needs no password', async () => {
    const res = await putServers({ koala_url: `${h.sims.koala.url}/`, koala_username: h.sims.koala.username, cloud_url: h.sims.cloud.url });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it('with the Koala password typed again, the new address is used, with that password only', async () => {
    const res = await putServers({ koala_url: rogueKoala.url, koala_username: 'rogue', koala_password: 'rogue-password-1' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    await koalaCall();
    expect(rogueKoala.logins).toBe(1);
    expect(JSON.stringify(rogueKoala.server.received)).not.toContain(h.sims.koala.password);
    // Back to the harness's Koala: again only with its password.
    expectError(await putServers({ koala_url: h.sims.koala.url, koala_username: h.sims.koala.username }), 400, 'VALIDATION_FAILED');
    const back = await putServers({ koala_url: h.sims.koala.url, koala_username: h.sims.koala.username, koala_password: h.sims.koala.password });
    expect(back.status).toBe(200);
  });
});

describe('cloud_url', () => {
  it('a new address without the admin password is 400; binding lookups stay where they were', async () => {
    const res = await putServers({ cloud_url: rogueCloud.url });
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.err_msg).toContain('admin_password');
    expect((await getServers()).cloud_url).toBe(h.sims.cloud.url);
    expect((await cloudCall()).status).toBe(404);
    expect(rogueCloud.server.received).toEqual([]);
  });

  it('a wrong admin password is 403 and changes nothing; guesses are limited like logins', async () => {
    for (let i = 0; i < LOGIN_LIMITS.perUsername; i++) {
      const res = await putServers({ cloud_url: rogueCloud.url, admin_password: `wrong-${i}` });
      expectError(res, 403, 'FORBIDDEN');
    }
    const limited = await putServers({ cloud_url: rogueCloud.url, admin_password: 'wrong-again' });
    expectError(limited, 429, 'RATE_LIMITED');
    // Even the right password waits for the window now: a stolen token cannot out-guess the limit.
    expectError(await putServers({ cloud_url: rogueCloud.url, admin_password: admin.password }), 429, 'RATE_LIMITED');
    expect((await getServers()).cloud_url).toBe(h.sims.cloud.url);
    await cloudCall();
    expect(rogueCloud.server.received).toEqual([]);
  });

  it("with the admin's own password the change is made, and audited", async () => {
    const other = await adminLogin(h);
    const res = await putServers({ cloud_url: rogueCloud.url, admin_password: other.password }, other.token);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    await cloudCall();
    expect(rogueCloud.server.received.length).toBeGreaterThan(0);
    const audit = await h.request('GET', '/v1/audit?action=config.servers.update', { token: other.token });
    expect(audit.body.data[0]).toMatchObject({ actor_id: String(other.id), detail: { changed: ['cloud_url'], cloud_url: rogueCloud.url } });
    expect(JSON.stringify(audit.body)).not.toContain(other.password);
    // Back, with the password again.
    expect((await putServers({ cloud_url: h.sims.cloud.url, admin_password: other.password }, other.token)).status).toBe(200);
  });
});
