import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { WechatOAuthPort } from '../../adapters/wechat-oauth/port.js';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { WeixinUserId } from '../../http/schemas.js';
import type { RedeemedCodes } from './redeemed-codes.js';
import { issueSession, openSession } from './service.js';
import type { SessionTokens } from './tokens.js';

const SessionData = Type.Object({ token: Type.String(), expires_at: Type.Integer(), weixinUserId: Type.String() });

export interface SessionRouteDeps {
  oauth: WechatOAuthPort;
  redeemed: RedeemedCodes;
  tokens: SessionTokens;
  nowSeconds: () => number;
  devLogin: boolean;
  /** Simulated mode: the demo WeChat users of the login picker. */
  demoUsers?: ReadonlyArray<{ weixinUserId: string; phone: string; who: string }>;
  wechatAppId: string;
  smsRequired: boolean;
}

/** Before and at sign-in: the H5 pages' settings, the OAuth session, and (simulated only) the demo logins. */
export function sessionRoutes(app: FastifyInstance, deps: SessionRouteDeps): void {
  oauthSessionRoutes(app, deps);
  // Only while the integrations are simulated (§2, §7): a session for any demo WeChat user.
  if (deps.devLogin) devSessionRoutes(app, deps);
}

/** The H5 pages' public settings, and a session from a WeChat OAuth code. */
function oauthSessionRoutes(app: FastifyInstance, deps: SessionRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  // What the H5 pages need before anyone signs in: WeChat OAuth (snsapi_base) with this appid,
  // or, simulated, the login picker. The appid is public (it is in every OAuth URL); the secret never leaves config.
  r.get(
    '/v1/h5/config',
    {
      schema: {
        tags: ['session'],
        summary: 'Public settings of the H5 pages: simulated mode, the WeChat appid for OAuth, whether binding needs an SMS code',
        response: {
          200: Envelope(Type.Object({ simulated: Type.Boolean(), wechat_app_id: Type.String(), sms_required: Type.Boolean() })),
          ...errorResponses(429),
        },
      },
    },
    async () => ok({ simulated: deps.devLogin, wechat_app_id: deps.wechatAppId, sms_required: deps.smsRequired }),
  );

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
    async (req) => ok(await openSession(deps, req.body.code)),
  );
}

/** Simulated mode only: a session for any weixinUserId, and the login picker's demo users. */
function devSessionRoutes(app: FastifyInstance, deps: SessionRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
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
    async (req) => ok(issueSession(deps, req.body.weixinUserId)),
  );

  // The login picker of the H5 pages (simulated mode only, like /v1/session/dev): the demo
  // WeChat users `npm start` binds at start; any other weixinUserId starts unbound.
  r.get(
    '/v1/session/dev/users',
    {
      schema: {
        tags: ['session'],
        summary: 'Simulated mode only: the demo WeChat users for the login picker',
        response: {
          200: Envelope(Type.Array(Type.Object({ weixinUserId: Type.String(), phone: Type.String(), who: Type.String() }))),
          ...errorResponses(429),
        },
      },
    },
    async () => ok((deps.demoUsers ?? []).map((u) => ({ weixinUserId: u.weixinUserId, phone: u.phone, who: u.who }))),
  );
}
