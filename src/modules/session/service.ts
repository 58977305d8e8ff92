import type { WechatOAuthPort } from '../../adapters/wechat-oauth/port.js';
import { AppError } from '../../errors.js';
import type { RedeemedCodes } from './redeemed-codes.js';
import type { SessionTokens } from './tokens.js';

export interface SessionView {
  token: string;
  expires_at: number;
  weixinUserId: string;
}

/**
 * A session for the WeChat user of a web-OAuth code (snsapi_base). WeChat refuses a used code
 * itself; the redeemed-code record holds the contract's "a code works once" even against an
 * OAuth endpoint (or proxy) that does not, and across replicas.
 */
export async function openSession(
  deps: { oauth: WechatOAuthPort; redeemed: RedeemedCodes; tokens: SessionTokens; nowSeconds: () => number },
  code: string,
): Promise<SessionView> {
  const { openid } = await deps.oauth.exchangeCode(code);
  if (!(await deps.redeemed.claim(code))) throw new AppError('UNAUTHENTICATED', '登录凭证已使用，请重新进入页面');
  return issueSession(deps, openid);
}

/** A session for `weixinUserId` (simulated mode's login picker uses this directly). */
export function issueSession(deps: { tokens: SessionTokens; nowSeconds: () => number }, weixinUserId: string): SessionView {
  const { token, expiresAt } = deps.tokens.issue(weixinUserId, deps.nowSeconds());
  return { token, expires_at: expiresAt, weixinUserId };
}
