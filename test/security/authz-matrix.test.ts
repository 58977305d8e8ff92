import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { applications } from '../../src/db/schema.js';
import { createSessionTokens } from '../../src/modules/session/tokens.js';
import { newOpenid, newPhone } from '../helpers/apply.js';
import { anApplication, anUnboundUser, applicationBody, aStaff, aVisitor, type Person } from '../helpers/factories.js';
import { futureWindow, STAFF, startHarness, type Harness, type Reply } from '../helpers/harness.js';
import { openApiRoutes, samplePath } from './openapi.js';

/** Set-up makes many OAuth exchanges; on a loaded CI box the simulators may take more than the default 2 s. */
const PATIENT = { UPSTREAM_TIMEOUT_MS: '10000' };

/**
 * Object-level authorization (issue 6, "Attacks"; contract §2, 3.5–3.11): every route × every
 * identity that must not see or change an object. A case leaks when it answers 2xx where it
 * must not, when its body carries anything of the victims (phones, names, record ids in a
 * list), or when the object changed afterwards. The table is data: add a route or an identity
 * and every combination is tried.
 */
const SECRET = 'test-secret-test-secret-test-secret-0123456789';
const ADMIN = { username: 'authz-admin', password: 'authz-admin-password-1' };

interface Identity {
  label: string;
  header?: string;
  /** The phone bound to the session (phone sessions only). */
  phone?: string;
  weixinUserId?: string;
}

interface Case {
  route: string;
  /** Labels of identities allowed to see / change the object: they are not attacked. */
  allowed: string[];
  request: (who: Identity) => { method: string; url: string; body?: unknown; headers?: Record<string, string> };
  /** Extra leak check on the answer (beyond status and the victims' strings). */
  leaked?: (res: Reply, who: Identity) => boolean | Promise<boolean>;
  /** The object unchanged afterwards? (false = leak) */
  intact?: () => Promise<boolean>;
}

describe('object-level authorization matrix', () => {
  let h: Harness;
  const victim = {
    visitor: { name: '受害访客', phone: newPhone('137'), wx: newOpenid('victim-v') },
    companion: { name: '受害同行', phone: newPhone('136'), wx: newOpenid('victim-c') },
    host: { ...STAFF.zhangwei, wx: newOpenid('victim-h') },
  };
  const marker = `机密备注-${Math.random().toString(36).slice(2, 8)}`;
  let pending: { id: number };
  let invitation: { id: number };
  const idemKey = `victim-key-${Date.now()}`;
  let idemBody: Record<string, unknown>;
  const ids: Record<string, Identity> = {};
  const results = { cases: 0, leaks: [] as string[] };

  beforeAll(async () => {
    h = await startHarness({ env: { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password, ...PATIENT } });
    const v = await aVisitor(h, { name: victim.visitor.name, phone: victim.visitor.phone, openid: victim.visitor.wx });
    const c = await aVisitor(h, { name: victim.companion.name, phone: victim.companion.phone, openid: victim.companion.wx });
    const host = await aStaff(h, 'zhangwei', { openid: victim.host.wx });
    // A visitor request to the host with a companion (kept for the replay of its Idempotency-Key) …
    idemBody = applicationBody({ by: v, host, retinues: [c], body: { remark: marker } });
    pending = await anApplication(h, { by: v, headers: { 'idempotency-key': idemKey }, body: idemBody });
    // … and the host's invitation of the same people, later.
    invitation = await anApplication(h, { by: host, visitor: v, retinues: [c], window: futureWindow(3), body: { remark: marker } });

    const identity = (label: string, p: Person): Identity => ({ label, header: `Bearer ${p.token}`, phone: p.phone, weixinUserId: p.openid });
    ids['other staff'] = identity('other staff', await aStaff(h, 'lina', { openid: newOpenid('other staff') }));
    ids['other visitor'] = identity('other visitor', await aVisitor(h, { phone: newPhone('135'), openid: newOpenid('other visitor') }));
    ids.companion = identity('companion', c);
    ids.visitor = identity('visitor', v);
    ids.host = identity('host', host);
    const unbound = await anUnboundUser(h, newOpenid('unbound'));
    ids.unbound = { label: 'unbound', header: `Bearer ${unbound.token}`, weixinUserId: unbound.openid };
    ids['no session'] = { label: 'no session' };
    const nowS = Math.floor(Date.now() / 1000);
    ids['expired session'] = { label: 'expired session', header: `Bearer ${createSessionTokens(SECRET, 60).issue(victim.host.wx, nowS - 3600).token}` };
    // The other visitor's valid token with the payload swapped for the host's.
    const [v1, , mac] = ids['other visitor']!.header!.slice(7).split('.');
    const forged = Buffer.from(JSON.stringify({ sub: victim.host.wx, exp: nowS + 3600 })).toString('base64url');
    ids['tampered session'] = { label: 'tampered session', header: `Bearer ${v1}.${forged}.${mac}` };
    ids['other secret'] = {
      label: 'other secret',
      header: `Bearer ${createSessionTokens('another-secret-another-secret-another-secret!!', 3600).issue(victim.host.wx, nowS).token}`,
    };
    const admin = await h.request('POST', '/v1/admin/session', { body: ADMIN });
    expect(admin.status).toBe(200);
    ids.admin = { label: 'admin', header: `Bearer ${admin.body.data.token}` };
    const kiosk = await h.request('POST', '/v1/devices', { token: admin.body.data.token, body: { name: 'authz kiosk', kind: 'kiosk' } });
    ids.device = { label: 'device', header: `Device ${kiosk.body.data.token}` };
  });
  afterAll(async () => {
    await h?.close();
    console.log(`authz matrix: ${results.cases} cases, ${results.leaks.length} leaks`);
  });

  /** Strings of the victims that no refused answer may carry. */
  const secrets = () => [victim.visitor.phone, victim.companion.phone, victim.visitor.name, victim.companion.name, marker, victim.visitor.wx];
  const listIds = (res: Reply): number[] => (Array.isArray(res.body?.data) ? res.body.data.map((r: { id: number }) => r.id) : []);
  const isAuth = async (id: number) => (await h.database.db.select({ a: applications.isAuth }).from(applications).where(eq(applications.id, id)))[0]?.a;
  const statusOf = async (id: number) => (await h.database.db.select({ s: applications.status }).from(applications).where(eq(applications.id, id)))[0]?.s;
  const countApps = async () => (await h.database.db.select({ id: applications.id }).from(applications)).length;

  function cases(): Case[] {
    return [
      {
        route: 'PUT /v1/auth/{id} (authorize a pending visitor request)',
        allowed: ['host'],
        request: () => ({ method: 'PUT', url: `/v1/auth/${pending.id}` }),
        intact: async () => (await isAuth(pending.id)) === 0,
      },
      {
        route: 'PUT /v1/auth/{id} (an authorized invitation)',
        allowed: ['host'],
        request: () => ({ method: 'PUT', url: `/v1/auth/${invitation.id}` }),
      },
      {
        route: 'GET /v1/visit/{id} (one visit, to its people)',
        allowed: ['host', 'visitor', 'companion'],
        request: () => ({ method: 'GET', url: `/v1/visit/${pending.id}` }),
      },
      {
        route: 'POST /v1/visit/{id}/reject (a pending visitor request)',
        allowed: ['host'],
        request: () => ({ method: 'POST', url: `/v1/visit/${pending.id}/reject`, body: { reason: '拒绝' } }),
        intact: async () => (await statusOf(pending.id)) === 'pending',
      },
      {
        route: 'POST /v1/visit/{id}/cancel (an invitation)',
        allowed: ['host'],
        request: () => ({ method: 'POST', url: `/v1/visit/${invitation.id}/cancel`, body: { reason: '取消' } }),
        intact: async () => (await statusOf(invitation.id)) === 'approved',
      },
      {
        route: 'PUT /v1/visit/{id}/time (an invitation)',
        allowed: ['host'],
        request: () => ({ method: 'PUT', url: `/v1/visit/${invitation.id}/time`, body: futureWindow(30) }),
        intact: (() => {
          let before = -1;
          return async () => {
            const [row] = await h.database.db.select({ s: applications.startTime }).from(applications).where(eq(applications.id, invitation.id));
            if (before === -1) before = row!.s;
            return row!.s === before;
          };
        })(),
      },
      {
        route: 'GET /v1/visit/records (involving me, not proposed by me)',
        // The host and the companion are involved in the request; the visitor in the invitation.
        allowed: ['host', 'companion', 'visitor'],
        request: () => ({ method: 'GET', url: '/v1/visit/records?size=100' }),
        leaked: (res) => listIds(res).some((id) => id === pending.id || id === invitation.id),
      },
      {
        route: 'GET /v1/auth/records (proposed by me)',
        allowed: ['visitor', 'host'],
        request: () => ({ method: 'GET', url: '/v1/auth/records?size=100' }),
        leaked: (res) => listIds(res).some((id) => id === pending.id || id === invitation.id),
      },
      {
        route: 'GET /v1/visit/records?phone=<victim>',
        allowed: ['visitor'],
        request: () => ({ method: 'GET', url: `/v1/visit/records?size=100&phone=${victim.visitor.phone}` }),
      },
      {
        route: 'GET /v1/auth/records?proposer=<victim>',
        allowed: ['visitor'],
        request: () => ({ method: 'GET', url: `/v1/auth/records?size=100&proposer=${victim.visitor.phone}` }),
      },
      {
        route: 'GET /v1/auth/records?phone=<victim>',
        allowed: ['visitor'],
        request: () => ({ method: 'GET', url: `/v1/auth/records?size=100&phone=${victim.visitor.phone}` }),
      },
      {
        route: 'GET /v1/subject/binding?weixinUserId=<victim host>',
        allowed: ['host'],
        request: () => ({ method: 'GET', url: `/v1/subject/binding?weixinUserId=${victim.host.wx}` }),
      },
      {
        route: 'GET /v1/visitor/binding?weixinUserId=<victim>',
        allowed: ['visitor'],
        request: () => ({ method: 'GET', url: `/v1/visitor/binding?weixinUserId=${victim.visitor.wx}` }),
      },
      {
        route: 'GET /v1/wechat/is_binding?weixinUserId=<victim>',
        allowed: ['visitor'],
        request: () => ({ method: 'GET', url: `/v1/wechat/is_binding?weixinUserId=${victim.visitor.wx}` }),
      },
      {
        route: 'DELETE /v1/subject/binding/{victim}',
        allowed: ['visitor'],
        request: () => ({ method: 'DELETE', url: `/v1/subject/binding/${victim.visitor.wx}` }),
        intact: async () => h.sims.cloud.bindings().some((b) => b.weixinUserId === victim.visitor.wx && b.phone === victim.visitor.phone),
      },
      {
        route: "POST /v1/visitor/binding (bind the victim's WeChat)",
        allowed: ['visitor'],
        request: () => ({
          method: 'POST',
          url: '/v1/visitor/binding',
          body: { phone: victim.visitor.phone, weixinUserId: victim.visitor.wx, sms_code: '000000' },
        }),
      },
      {
        route: "POST /v1/subject/binding (bind the host's WeChat)",
        allowed: ['host'],
        request: () => ({
          method: 'POST',
          url: '/v1/subject/binding',
          body: { name: victim.host.name, phone: victim.host.phone, weixinUserId: victim.host.wx, sms_code: '000000' },
        }),
      },
      {
        route: "POST /v1/subject with proposer=<victim> (apply in someone else's name)",
        allowed: ['visitor'],
        request: () => ({ method: 'POST', url: '/v1/subject', body: { ...idemBody, proposer: victim.visitor.phone, ...futureWindow(5) } }),
        intact: (() => {
          let before = -1;
          return async () => {
            const n = await countApps();
            if (before === -1) before = n;
            return n === before;
          };
        })(),
      },
      {
        route: "POST /v1/subject replaying the victim's Idempotency-Key",
        allowed: ['visitor'],
        request: (who) => ({
          method: 'POST',
          url: '/v1/subject',
          headers: { 'idempotency-key': idemKey },
          // The attacker's own valid visitor request, under the victim's key: must never return the victim's record.
          body: who.phone ? { ...idemBody, name: '攻击者', phone: who.phone, remark: '', retinues: [] } : idemBody,
        }),
        leaked: (res) => res.body?.data?.id === pending.id,
      },
      {
        route: "POST /v1/sms/code for the victim's phone",
        allowed: ['visitor', 'host', 'companion', 'other staff', 'other visitor', 'unbound'],
        request: () => ({ method: 'POST', url: '/v1/sms/code', body: { phone: victim.visitor.phone } }),
      },
    ];
  }

  /** Who may hold a phone session: everyone else is refused by every phone route. */
  const attackers = () => Object.values(ids);

  it('phone routes × identities: 0 leaks', { timeout: 120_000 }, async () => {
    for (const c of cases()) {
      await c.intact?.(); // baseline for stateful checks
      for (const who of attackers()) {
        if (c.allowed.includes(who.label)) continue;
        const r = c.request(who);
        const res = await h.request(r.method, r.url, { body: r.body, headers: { ...(who.header ? { authorization: who.header } : {}), ...r.headers } });
        results.cases++;
        const text = JSON.stringify(res.body);
        const problems: string[] = [];
        // The SMS-code route is open to any phone session (it proves ownership): 200 there is fine, nothing may be echoed.
        const okAllowed = c.route.startsWith('POST /v1/sms/code') && who.phone !== undefined;
        const listRoute = c.route.startsWith('GET /v1/visit/records (') || c.route.startsWith('GET /v1/auth/records (');
        const idemRoute = c.route.includes('Idempotency-Key');
        if (res.status < 300 && !okAllowed && !listRoute && !idemRoute) problems.push(`answered ${res.status}`);
        if (res.status >= 500) problems.push(`answered ${res.status}`);
        // The attacker's own phone may come back in the attacker's own record.
        for (const s of secrets()) if (s !== who.phone && text.includes(s)) problems.push(`body carries ${s.slice(0, 3)}…`);
        if (c.leaked && (await c.leaked(res, who))) problems.push('answer reveals the object');
        if (c.intact && !(await c.intact())) problems.push('object changed');
        if (problems.length > 0) results.leaks.push(`${c.route} as ${who.label}: ${problems.join(', ')} → ${res.status} ${text.slice(0, 160)}`);
      }
    }
    expect(results.leaks).toEqual([]);
    expect(results.cases).toBeGreaterThan(100);
  });

  it('every secured OpenAPI route × every invalid credential: 401, nothing revealed', { timeout: 120_000 }, async () => {
    const routes = openApiRoutes(h.runtime.app.swagger()).filter((r) => r.secured);
    expect(routes.length).toBeGreaterThanOrEqual(8);
    const invalid = ['no session', 'expired session', 'tampered session', 'other secret'].map((l) => ids[l]!);
    let n = 0;
    for (const route of routes) {
      for (const who of invalid) {
        const url = samplePath(route.path, { id: String(pending.id), weixinUserId: victim.visitor.wx });
        const res = await h.request(route.method, url, {
          body: route.method === 'GET' || route.method === 'DELETE' ? undefined : idemBody,
          headers: who.header ? { authorization: who.header } : {},
        });
        results.cases++;
        n++;
        const text = JSON.stringify(res.body);
        if (res.status !== 401 || secrets().some((s) => text.includes(s)))
          results.leaks.push(`${route.method} ${route.path} as ${who.label} → ${res.status} ${text.slice(0, 160)}`);
      }
    }
    expect(results.leaks).toEqual([]);
    expect(n).toBe(routes.length * invalid.length);
    expect(await isAuth(pending.id)).toBe(0);
  });

  it('admin routes × every phone session and device: refused, nothing revealed', { timeout: 120_000 }, async () => {
    // Admin routes by their place in the API (docs/api-contract-frontdesk.md), read from the OpenAPI document.
    const adminRoutes = openApiRoutes(h.runtime.app.swagger()).filter(
      (r) => /^\/v1\/(admin|config|devices|audit|privacy)(\/|$)/.test(r.path) && r.path !== '/v1/admin/session',
    );
    expect(adminRoutes.length).toBeGreaterThanOrEqual(5);
    const notAdmin = Object.values(ids).filter((who) => who.label !== 'admin' && who.header);
    let n = 0;
    for (const route of adminRoutes) {
      for (const who of notAdmin) {
        const url = samplePath(route.path, { id: '1' }) + (route.path.startsWith('/v1/privacy/export') ? `?phone=${victim.visitor.phone}` : '');
        const body = route.path.startsWith('/v1/privacy/erase')
          ? { phone: victim.visitor.phone }
          : route.method === 'GET' || route.method === 'DELETE'
            ? undefined
            : {};
        const res = await h.request(route.method, url, { body, headers: { authorization: who.header! } });
        results.cases++;
        n++;
        const text = JSON.stringify(res.body);
        if (![401, 403].includes(res.status) || secrets().some((s) => text.includes(s)))
          results.leaks.push(`${route.method} ${route.path} as ${who.label} → ${res.status} ${text.slice(0, 160)}`);
      }
    }
    expect(results.leaks).toEqual([]);
    expect(n).toBe(adminRoutes.length * notAdmin.length);
    // Nothing was erased by anyone.
    expect(await isAuth(pending.id)).toBe(0);
  });

  it('the allowed identities do see their objects (the matrix is not vacuous)', async () => {
    const asHost = await h.request('GET', '/v1/visit/records?size=100', { headers: { authorization: ids.host!.header! } });
    expect(listIds(asHost)).toContain(pending.id);
    const asCompanion = await h.request('GET', '/v1/visit/records?size=100', { headers: { authorization: ids.companion!.header! } });
    expect(listIds(asCompanion)).toEqual(expect.arrayContaining([pending.id, invitation.id]));
    const asVisitor = await h.request('GET', '/v1/auth/records?size=100', { headers: { authorization: ids.visitor!.header! } });
    expect(listIds(asVisitor)).toContain(pending.id);
    const replay = await h.request('POST', '/v1/subject', { body: idemBody, headers: { authorization: ids.visitor!.header!, 'idempotency-key': idemKey } });
    expect(replay.body.data.id).toBe(pending.id);
  });
});
