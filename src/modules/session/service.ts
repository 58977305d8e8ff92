import type { WechatOAuthPort } from '../../adapters/wechat-oauth/port.js';
import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import { stateMatches } from './oauth-state.js';
import type { RedeemedCodes } from './redeemed-codes.js';
import type { SessionRevocations } from './revocations.js';
import type { SessionTokens } from './tokens.js';

export interface SessionView {
  token: string;
  expires_at: number;
  weixinUserId: string;
}

export interface IssueDeps {
  tokens: SessionTokens;
  revocations: Pick<SessionRevocations, 'issuedAt'>;
  nowSeconds: () => number;
}

/** Said when the state WeChat sent back is not this browser's: a link someone else started. */
export const FOREIGN_LOGIN_MESSAGE = '此登录链接不是在您的浏览器中发起的（可能是他人发来的链接），为保护您的账号，未登录。请重新登录';

/**
 * A session for the WeChat user of a web-OAuth code (snsapi_base), exchanged only when the
 * `state` WeChat sent back is the one this browser kept (`browserState`, its cookie): a code
 * obtained by someone else signs nobody in. WeChat refuses a used code itself; the
 * redeemed-code record holds the contract's "a code works once" even against an OAuth endpoint
 * (or proxy) that does not, and across replicas.
 */
export async function openSession(
  deps: IssueDeps & { oauth: WechatOAuthPort; redeemed: RedeemedCodes },
  input: { code: string; state: string; browserState: string },
): Promise<SessionView> {
  if (!stateMatches(input.state, input.browserState)) throw new AppError('UNAUTHENTICATED', FOREIGN_LOGIN_MESSAGE, { detail: 'OAuth state does not match' });
  const { openid } = await deps.oauth.exchangeCode(input.code);
  if (!(await deps.redeemed.claim(input.code))) throw new AppError('UNAUTHENTICATED', '登录凭证已使用，请重新进入页面');
  return issueSession(deps, openid);
}

/** A session for `weixinUserId` (simulated mode's login picker uses this directly). */
export async function issueSession(deps: IssueDeps, weixinUserId: string): Promise<SessionView> {
  const issuedAt = await deps.revocations.issuedAt(weixinUserId);
  const { token, expiresAt } = deps.tokens.issue(weixinUserId, deps.nowSeconds(), issuedAt);
  return { token, expires_at: expiresAt, weixinUserId };
}

export type SessionEndReason = 'sign_out_everywhere' | 'unbind' | 'admin';

export interface SessionEnder {
  /** Ends every session of `weixinUserId` issued until now, on every replica; audited as `session.revoke_all`. */
  endAll(actor: AuditEntry['actor'], weixinUserId: string, reason: SessionEndReason): Promise<void>;
}

/** Revocations written with their audit entry in one transaction, known to this replica as soon as they commit. */
export function createSessionEnder(deps: { db: Db; audit: Audit; revocations: SessionRevocations }): SessionEnder {
  return {
    async endAll(actor, weixinUserId, reason) {
      const bound = await deps.db.transaction(async (tx) => {
        const revokedBefore = await deps.revocations.revoke(tx, weixinUserId);
        await deps.audit.record(tx, { actor, action: 'session.revoke_all', targetType: 'wechat_user', targetId: weixinUserId, detail: { reason } });
        return revokedBefore;
      });
      deps.revocations.remember(weixinUserId, bound);
    },
  };
}
