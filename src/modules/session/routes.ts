import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { WechatOAuthPort } from '../../adapters/wechat-oauth/port.js';
import { adminOf, callerOf } from '../../http/auth.js';
import { EmptyObject, Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth, WeixinUserId } from '../../http/schemas.js';
import { clearedStateCookie, newOAuthState, stateCookie, stateFromCookies } from './oauth-state.js';
import type { RedeemedCodes } from './redeemed-codes.js';
import type { SessionRevocations } from './revocations.js';
import { issueSession, openSession, type SessionEnder } from './service.js';
import type { SessionTokens } from './tokens.js';

const SessionData = Type.Object({ token: Type.String(), expires_at: Type.Integer(), weixinUserId: Type.String() });

export interface SessionRouteDeps {
  oauth: WechatOAuthPort;
  redeemed: RedeemedCodes;
  tokens: SessionTokens;
  revocations: SessionRevocations;
  ender: SessionEnder;
  nowSeconds: () => number;
  devLogin: boolean;
  /** Simulated mode: the demo WeChat users of the login picker. */
  demoUsers?: ReadonlyArray<{ weixinUserId: string; phone: string; who: string }>;
  wechatAppId: string;
  smsRequired: boolean;
  /** Working hours in China time (whole hours) and how many days ahead a visit may start: the form's defaults and bounds. */
  workHours: { start: number; end: number };
  maxDaysAhead: number;
}

/** Before and at sign-in: the H5 pages' settings, the OAuth session, and (simulated only) the demo logins. */
export function sessionRoutes(app: FastifyInstance, deps: SessionRouteDeps): void {
  oauthSessionRoutes(app, deps);
  signOutRoutes(app, deps);
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
        summary:
          'Public settings of the H5 pages: simulated mode, the WeChat appid for OAuth, whether binding needs an SMS code, working hours, how far ahead a visit may start',
        response: {
          200: Envelope(
            Type.Object({
              simulated: Type.Boolean(),
              wechat_app_id: Type.String(),
              sms_required: Type.Boolean(),
              work_hours: Type.Object({ start: Type.Integer(), end: Type.Integer() }, { description: 'China time, whole hours [start, end)' }),
              max_days_ahead: Type.Integer(),
            }),
          ),
          ...errorResponses(429),
        },
      },
    },
    async () =>
      ok({
        simulated: deps.devLogin,
        wechat_app_id: deps.wechatAppId,
        sms_required: deps.smsRequired,
        work_hours: deps.workHours,
        max_days_ahead: deps.maxDaysAhead,
      }),
  );

  // The state of one OAuth round, kept by this browser (an httpOnly cookie) for the exchange below.
  r.post(
    '/v1/session/state',
    {
      schema: {
        tags: ['session'],
        summary: 'Start a WeChat OAuth round: the state for the authorize URL, kept by this browser in a cookie',
        response: { 200: Envelope(Type.Object({ state: Type.String() })), ...errorResponses(429) },
      },
    },
    async (req, reply) => {
      const state = newOAuthState();
      void reply.header('set-cookie', stateCookie(state, req.protocol === 'https'));
      return ok({ state });
    },
  );

  r.post(
    '/v1/session',
    {
      schema: {
        tags: ['session'],
        summary: "Exchange a WeChat web-OAuth code (snsapi_base) for a session; the state must be this browser's (POST /v1/session/state)",
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 512 }), state: Type.String({ maxLength: 128 }) }),
        response: { 200: Envelope(SessionData), ...errorResponses(400, 401, 429, 502, 503) },
      },
    },
    async (req, reply) => {
      const browserState = stateFromCookies(req.headers.cookie);
      const session = await openSession(deps, { code: req.body.code, state: req.body.state, browserState });
      void reply.header('set-cookie', clearedStateCookie(req.protocol === 'https'));
      return ok(session);
    },
  );
}

/** Ending sessions before they expire: the caller's own, everywhere. */
function signOutRoutes(app: FastifyInstance, deps: SessionRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.delete(
    '/v1/session',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['session'],
        summary: "Sign out everywhere: every session of the caller's WeChat ends, this one too",
        security: BearerAuth,
        response: { 200: Envelope(EmptyObject), ...errorResponses(401, 503) },
      },
    },
    async (req) => {
      const weixinUserId = callerOf(req);
      await deps.ender.endAll({ kind: 'wechat', id: weixinUserId }, weixinUserId, 'sign_out_everywhere');
      return ok({});
    },
  );
}

/** Admin: end every session of one WeChat user (audited). */
export function adminSessionEndRoutes(app: FastifyInstance, deps: { ender: SessionEnder }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.delete(
    '/v1/admin/sessions/:weixinUserId',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'End every session of a WeChat user (their phone pages sign in again); audited',
        security: BearerAuth,
        params: Type.Object({ weixinUserId: WeixinUserId }),
        response: { 200: Envelope(Type.Object({ weixinUserId: Type.String(), revoked: Type.Literal(true) })), ...errorResponses(400, 401, 503) },
      },
    },
    async (req) => {
      await deps.ender.endAll({ kind: 'admin', id: String(adminOf(req).id) }, req.params.weixinUserId, 'admin');
      return ok({ weixinUserId: req.params.weixinUserId, revoked: true as const });
    },
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
    async (req) => ok(await issueSession(deps, req.body.weixinUserId)),
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
