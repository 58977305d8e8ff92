import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSessionRevocations } from '../../src/modules/session/revocations.js';
import { adminLogin } from '../admin/helpers.js';
import { newOpenid, newPhone } from '../helpers/apply.js';
import { startHarness, testLogger, type Harness, type Reply } from '../helpers/harness.js';

/**
 * Sessions end before their SESSION_TTL when they must: a stolen or planted session (a lost
 * phone, a login-CSRF victim's browser holding the attacker's session) is ended by unbinding the
 * WeChat, by "sign out everywhere", or by an admin. A revoked token is 401 with the envelope on
 * every route, the records lists first; the check reads memory only.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

const ENDED = '会话已结束（已退出登录或解除绑定），请重新登录';

function expectEnded(res: Reply, what: string): void {
  expect([what, res.status, res.body]).toEqual([what, 401, { code: 401, error: 'UNAUTHENTICATED', err_msg: ENDED }]);
}

/** A phone route and both record lists (the hot path) for a session. */
async function expectAllEnded(token: string): Promise<void> {
  for (const url of ['/v1/visit/records?size=5', '/v1/auth/records?size=5', '/v1/wechat/is_binding']) expectEnded(await h.request('GET', url, { token }), url);
}

async function expectWorks(token: string): Promise<void> {
  for (const url of ['/v1/visit/records?size=5', '/v1/auth/records?size=5']) expect((await h.request('GET', url, { token })).status, url).toBe(200);
}

const auditOf = async (admin: string, weixinUserId: string) =>
  (await h.request('GET', `/v1/audit?action=session.revoke_all&target_id=${weixinUserId}`, { token: admin })).body.data as Array<Record<string, unknown>>;

describe('sign out everywhere: DELETE /v1/session', () => {
  it('ends every session of the caller’s WeChat, on every device, and no one else’s; signing in again works at once', async () => {
    const wx = newOpenid('wx-out');
    h.sims.cloud.bind(wx, newPhone());
    const [phone, laptop] = [await h.session(wx), await h.session(wx)];
    const other = await h.bound(newOpenid('wx-other'), newPhone());
    await expectWorks(phone);
    await expectWorks(laptop);

    expect((await h.request('DELETE', '/v1/session', { token: phone })).body).toEqual({ code: 0, err_msg: '', data: {} });
    await expectAllEnded(phone);
    await expectAllEnded(laptop);
    expectEnded(await h.request('DELETE', '/v1/session', { token: laptop }), 'DELETE /v1/session');
    await expectWorks(other);

    // A new sign-in right after (same millisecond or not) is a live session.
    const again = await h.session(wx);
    await expectWorks(again);
    const admin = (await adminLogin(h)).token;
    expect(await auditOf(admin, wx)).toEqual([
      expect.objectContaining({ actor_kind: 'wechat', actor_id: wx, target_type: 'wechat_user', target_id: wx, detail: { reason: 'sign_out_everywhere' } }),
    ]);
  });

  it('needs a session: none, or an admin token, is 401', async () => {
    expect((await h.request('DELETE', '/v1/session')).status).toBe(401);
    expect((await h.request('DELETE', '/v1/session', { token: (await adminLogin(h)).token })).status).toBe(401);
  });
});

describe('unbinding ends the WeChat’s sessions', () => {
  it('a session held elsewhere (another device, a planted one) ends with the binding', async () => {
    const wx = newOpenid('wx-unbind');
    h.sims.cloud.bind(wx, newPhone());
    const own = await h.session(wx);
    const elsewhere = await h.session(wx);
    await expectWorks(elsewhere);
    expect((await h.request('DELETE', `/v1/subject/binding/${wx}`, { token: own })).status).toBe(200);
    await expectAllEnded(elsewhere);
    await expectAllEnded(own);
    const admin = (await adminLogin(h)).token;
    expect(await auditOf(admin, wx)).toEqual([expect.objectContaining({ actor_kind: 'wechat', detail: { reason: 'unbind' } })]);
  });
});

describe('an admin ends a user’s sessions: DELETE /v1/admin/sessions/{weixinUserId}', () => {
  it('ends them at once, audited with the admin', async () => {
    const wx = newOpenid('wx-admin-ends');
    const token = await h.bound(wx, newPhone());
    await expectWorks(token);
    const admin = await adminLogin(h);
    const res = await h.request('DELETE', `/v1/admin/sessions/${wx}`, { token: admin.token });
    expect(res.body).toEqual({ code: 0, err_msg: '', data: { weixinUserId: wx, revoked: true } });
    await expectAllEnded(token);
    expect(await auditOf(admin.token, wx)).toEqual([
      expect.objectContaining({ actor_kind: 'admin', actor_id: String(admin.id), target_type: 'wechat_user', target_id: wx, detail: { reason: 'admin' } }),
    ]);
    await expectWorks(await h.session(wx));
  });

  it('is an admin route: a phone session is 401, and a malformed openid is 400', async () => {
    const token = await h.bound(newOpenid('wx-not-admin'), newPhone());
    expect((await h.request('DELETE', '/v1/admin/sessions/wx-anyone', { token })).status).toBe(401);
    expect((await h.request('DELETE', '/v1/admin/sessions/wx-anyone')).status).toBe(401);
    const admin = (await adminLogin(h)).token;
    expect((await h.request('DELETE', `/v1/admin/sessions/${encodeURIComponent('a b')}`, { token: admin })).status).toBe(400);
  });
});

describe('every replica', () => {
  it('another replica (its own revocation list on the same database) refuses the token within its next look', async () => {
    const wx = newOpenid('wx-replica');
    const token = await h.bound(wx, newPhone());
    const iat = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iat: number }).iat;
    expect(iat).toBeGreaterThan(0);
    const other = await startSessionRevocations({ db: h.database.db, logger: testLogger('silent'), ttlSeconds: 3600, pollMs: 100 });
    try {
      expect(other.isRevoked(wx, iat)).toBe(false);
      expect((await h.request('DELETE', '/v1/session', { token })).status).toBe(200);
      await h.waitFor(() => other.isRevoked(wx, iat), { what: 'the other replica to see the revocation' });
      // A session issued after it is not caught by it.
      expect(other.isRevoked(wx, await other.issuedAt(wx))).toBe(false);
    } finally {
      await other.stop();
    }
    // A replica started afterwards loads it at start.
    const late = await startSessionRevocations({ db: h.database.db, logger: testLogger('silent'), ttlSeconds: 3600 });
    try {
      expect(late.isRevoked(wx, iat)).toBe(true);
    } finally {
      await late.stop();
    }
  });
});
