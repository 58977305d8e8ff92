import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { normalizePhone } from '../phone.js';

/** A request parameter that, when present, must name the caller (api-contract.md §2). */
export interface CallerParam {
  source: 'query' | 'body' | 'params';
  field: string;
  kind: 'weixinUserId' | 'phone';
}

/**
 * 'session': a phone session, `Authorization: Bearer <token from POST /v1/session>`.
 * 'device': a kiosk or turnstile, `Authorization: Device <device token>`.
 * 'admin': `Authorization: Bearer <token from POST /v1/admin/session>`.
 * An array accepts any of them. A credential of a kind the route does not accept is a 401.
 */
export type AuthKind = 'session' | 'device' | 'admin';

/** A signed-in admin, as the admin accounts' authenticator answers it. */
export interface AdminPrincipal {
  id: number;
  username: string;
}

/** An active kiosk or turnstile, as the devices' authenticator answers it. */
export interface DevicePrincipal {
  id: number;
  name: string;
  kind: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthKind | AuthKind[];
    /** With auth 'device': only these kinds of device (403 FORBIDDEN for the others). */
    deviceKinds?: string[];
    callerParams?: CallerParam[];
  }
  interface FastifyRequest {
    weixinUserId: string | null;
    device: DevicePrincipal | null;
    admin: AdminPrincipal | null;
  }
}

/**
 * What authentication needs of the features, as narrow interfaces: the transport knows no
 * feature, the composition root (app.ts) passes the real ones in.
 */
export interface AuthDeps {
  /** Phone sessions: the WeChat openid (`sub`) and issue time (`iat`) of a valid, unexpired token, else null. */
  tokens: { verify(token: string, nowSeconds: number): { sub: string; iat: number } | null };
  /** Phone sessions ended early (unbinding, "sign out everywhere", an admin); answered from memory. */
  revocations: { isRevoked(weixinUserId: string, issuedAt: number): boolean };
  /** The phone bound to a WeChat (403 NOT_BOUND when none): checks parameters that name the caller. */
  identity: { requirePhone(weixinUserId: string): Promise<string> };
  nowSeconds: () => number;
  /** Absent: routes with auth 'device' answer 401 to everyone. */
  devices?: { authenticate(token: string): Promise<DevicePrincipal | null> };
  /** Absent: routes with auth 'admin' answer 401 to everyone. Admin tokens start with `tokenPrefix`. */
  admins?: { tokenPrefix: string; authenticate(token: string): Promise<AdminPrincipal | null> };
}

const ANY_WEIXIN_USER_ID: CallerParam[] = (['query', 'body', 'params'] as const).map((source) => ({ source, field: 'weixinUserId', kind: 'weixinUserId' }));

/** The session's WeChat openid; only for routes declared with `auth: 'session'`. */
export function callerOf(req: FastifyRequest): string {
  if (!req.weixinUserId) throw new AppError('UNAUTHENTICATED');
  return req.weixinUserId;
}

/** The device of a route declared with `auth: 'device'`. */
export function deviceOf(req: FastifyRequest): DevicePrincipal {
  if (!req.device) throw new AppError('UNAUTHENTICATED', '需要设备凭证（Authorization: Device <token>）');
  return req.device;
}

/** The admin of a route declared with `auth: 'admin'`. */
export function adminOf(req: FastifyRequest): AdminPrincipal {
  if (!req.admin) throw new AppError('UNAUTHENTICATED', '需要管理员登录');
  return req.admin;
}

const kindsOf = (auth: AuthKind | AuthKind[] | undefined): AuthKind[] => (auth === undefined ? [] : Array.isArray(auth) ? auth : [auth]);

const NEEDS: Record<AuthKind, string> = {
  session: '微信会话（Authorization: Bearer）',
  device: '设备凭证（Authorization: Device）',
  admin: '管理员会话（Authorization: Bearer，来自 POST /v1/admin/session）',
};

/**
 * Checks run in the contract's order: route (unknown routes never get here), session (401),
 * caller parameters (403), then the route's schema (400) and the business rules.
 */
export function installAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest('weixinUserId', null);
  app.decorateRequest('device', null);
  app.decorateRequest('admin', null);

  app.addHook('onRequest', async (req) => {
    const kinds = kindsOf(req.routeOptions.config?.auth);
    if (kinds.length === 0) return;
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^(Bearer|Device)\s+(\S+)\s*$/i.exec(header) : null;
    const needs = kinds.map((k) => NEEDS[k]).join(' 或 ');
    if (!match?.[2]) {
      throw new AppError(
        'UNAUTHENTICATED',
        kinds.length === 1 && kinds[0] === 'session' ? '请先登录（缺少 Authorization: Bearer 会话）' : `请先登录：此接口需要${needs}`,
      );
    }
    const scheme = match[1]!.toLowerCase();
    const token = match[2];

    if (scheme === 'device') {
      if (!kinds.includes('device')) throw new AppError('UNAUTHENTICATED', `设备凭证不能用于此接口：需要${needs}`);
      const device = (await deps.devices?.authenticate(token)) ?? null;
      if (!device) throw new AppError('UNAUTHENTICATED', '设备凭证无效或已被吊销');
      const allowed = req.routeOptions.config?.deviceKinds;
      if (allowed && !allowed.includes(device.kind)) throw new AppError('FORBIDDEN', `此接口不接受 ${device.kind} 类设备`);
      req.device = device;
      return;
    }
    // Admin tokens carry their own prefix (and key), so the two Bearer kinds never mix.
    if (deps.admins && token.startsWith(deps.admins.tokenPrefix)) {
      if (!kinds.includes('admin')) throw new AppError('UNAUTHENTICATED', `管理员会话不能用于此接口：需要${needs}`);
      const admin = (await deps.admins?.authenticate(token)) ?? null;
      if (!admin) throw new AppError('UNAUTHENTICATED', '管理员会话无效或已过期，请重新登录');
      req.admin = admin;
      return;
    }
    if (!kinds.includes('session')) throw new AppError('UNAUTHENTICATED', `微信会话不能用于此接口：需要${needs}`);
    const claims = deps.tokens.verify(token, deps.nowSeconds());
    if (!claims) throw new AppError('UNAUTHENTICATED', '会话无效或已过期，请重新登录');
    if (deps.revocations.isRevoked(claims.sub, claims.iat)) throw new AppError('UNAUTHENTICATED', '会话已结束（已退出登录或解除绑定），请重新登录');
    req.weixinUserId = claims.sub;
  });

  app.addHook('preValidation', async (req) => {
    if (!req.weixinUserId) return;
    // `weixinUserId` names the caller wherever a client puts it (§2), declared by the route or not.
    const params = [...ANY_WEIXIN_USER_ID, ...(req.routeOptions.config.callerParams ?? [])];
    for (const p of params) {
      const container = (p.source === 'query' ? req.query : p.source === 'body' ? req.body : req.params) as unknown;
      if (!container || typeof container !== 'object') continue;
      const value = (container as Record<string, unknown>)[p.field];
      if (value === undefined || value === null || value === '') continue;
      if (p.kind === 'weixinUserId') {
        if (value !== req.weixinUserId) throw new AppError('FORBIDDEN', `${p.field} 与当前登录的微信不一致`);
      } else {
        const phone = await deps.identity.requirePhone(req.weixinUserId);
        if (normalizePhone(value) !== phone) throw new AppError('FORBIDDEN', `${p.field} 必须是当前微信绑定的手机号`);
      }
    }
  });
}
