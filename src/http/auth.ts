import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { Identity } from '../modules/identity/service.js';
import type { SessionTokens } from '../modules/session/tokens.js';
import { normalizePhone } from '../phone.js';

/** A request parameter that, when present, must name the caller (api-contract.md §2). */
export interface CallerParam {
  source: 'query' | 'body' | 'params';
  field: string;
  kind: 'weixinUserId' | 'phone';
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'session': needs `Authorization: Bearer <token>`. */
    auth?: 'session';
    callerParams?: CallerParam[];
  }
  interface FastifyRequest {
    weixinUserId: string | null;
  }
}

const ANY_WEIXIN_USER_ID: CallerParam[] = (['query', 'body', 'params'] as const).map((source) => ({ source, field: 'weixinUserId', kind: 'weixinUserId' }));

/** The session's WeChat openid; only for routes declared with `auth: 'session'`. */
export function callerOf(req: FastifyRequest): string {
  if (!req.weixinUserId) throw new AppError('UNAUTHENTICATED');
  return req.weixinUserId;
}

/**
 * Checks run in the contract's order: route (unknown routes never get here), session (401),
 * caller parameters (403), then the route's schema (400) and the business rules.
 */
export function installAuth(app: FastifyInstance, deps: { tokens: SessionTokens; identity: Identity; nowSeconds: () => number }): void {
  app.decorateRequest('weixinUserId', null);

  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config?.auth !== 'session') return;
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) throw new AppError('UNAUTHENTICATED', '请先登录（缺少 Authorization: Bearer 会话）');
    const claims = deps.tokens.verify(match[1], deps.nowSeconds());
    if (!claims) throw new AppError('UNAUTHENTICATED', '会话无效或已过期，请重新登录');
    req.weixinUserId = claims.sub;
  });

  app.addHook('preValidation', async (req) => {
    if (req.routeOptions.config?.auth !== 'session' || !req.weixinUserId) return;
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
