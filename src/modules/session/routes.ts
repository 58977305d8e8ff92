import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { WechatOAuthPort } from '../../adapters/wechat-oauth/port.js';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { WeixinUserId } from '../../http/schemas.js';
import { AppError } from '../../errors.js';
import type { RedeemedCodes } from './redeemed-codes.js';
import type { SessionTokens } from './tokens.js';

const SessionData = Type.Object({ token: Type.String(), expires_at: Type.Integer(), weixinUserId: Type.String() });

export function sessionRoutes(app: FastifyInstance, deps: { oauth: WechatOAuthPort; redeemed: RedeemedCodes; tokens: SessionTokens; nowSeconds: () => number; devLogin: boolean }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/v1/session',
    {
      schema: {
        tags: ['session'],
        summary: 'Exchange a WeChat web-OAuth code (snsapi_base) for a session',
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 512 }) }),
        response: { 200: Envelope(SessionData), ...errorResponses(400, 401, 429, 502, 503) },
      },
    },
    async (req) => {
      const { openid } = await deps.oauth.exchangeCode(req.body.code);
      // WeChat refuses a used code itself; this holds the contract's "a code works once" even
      // against an OAuth endpoint (or proxy) that does not, and across replicas.
      if (!(await deps.redeemed.claim(req.body.code))) throw new AppError('UNAUTHENTICATED', '登录凭证已使用，请重新进入页面');
      const { token, expiresAt } = deps.tokens.issue(openid, deps.nowSeconds());
      return ok({ token, expires_at: expiresAt, weixinUserId: openid });
    },
  );

  // Only while the integrations are simulated (§2, §7): a session for any demo WeChat user.
  if (deps.devLogin) {
    r.post(
      '/v1/session/dev',
      {
        schema: {
          tags: ['session'],
          summary: 'Simulated mode only: a session for any weixinUserId, without WeChat',
          body: Type.Object({ weixinUserId: WeixinUserId }),
          response: { 200: Envelope(SessionData), ...errorResponses(400, 429) },
        },
      },
      async (req) => {
        const { token, expiresAt } = deps.tokens.issue(req.body.weixinUserId, deps.nowSeconds());
        return ok({ token, expires_at: expiresAt, weixinUserId: req.body.weixinUserId });
      },
    );
  }
}
