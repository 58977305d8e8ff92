import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { callerOf } from '../../http/auth.js';
import { LIMITS } from '../../limits.js';
import { EmptyObject, Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth, PhoneInput, SmsCode, WeixinUserId } from '../../http/schemas.js';
import { StaffProfile, VisitorProfile } from './schemas.js';
import type { Bindings } from './service.js';

const wxQuery = Type.Object({ weixinUserId: Type.Optional(Type.String({ maxLength: 128 })) });
const callerWx = (source: 'query' | 'body' | 'params') => [{ source, field: 'weixinUserId', kind: 'weixinUserId' as const }];

type Deps = { bindings: Bindings };

/** 3.1–3.6: the caller's WeChat binding (every route names the caller, or no one). */
export function bindingRoutes(app: FastifyInstance, deps: Deps): void {
  staffBindingRoutes(app, deps);
  visitorBindingRoutes(app, deps);
  callerRoutes(app, deps);
}

/** 3.1, 3.2: a member of staff binds their WeChat to their Koala employee record. */
function staffBindingRoutes(app: FastifyInstance, { bindings }: Deps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/v1/subject/binding',
    {
      config: { auth: 'session', callerParams: callerWx('query') },
      schema: {
        tags: ['binding'],
        summary: '3.1 Staff: is my WeChat bound? ({} when not)',
        security: BearerAuth,
        querystring: wxQuery,
        response: { 200: Envelope(Type.Union([StaffProfile, EmptyObject])), ...errorResponses(401, 403, 404, 502, 503) },
      },
    },
    async (req) => ok((await bindings.staffStatus(callerOf(req))) ?? {}),
  );

  r.post(
    '/v1/subject/binding',
    {
      config: { auth: 'session', callerParams: callerWx('body') },
      schema: {
        tags: ['binding'],
        summary: '3.2 Staff: bind my WeChat (name and phone must be a Koala employee)',
        security: BearerAuth,
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: LIMITS.personName }),
          phone: PhoneInput,
          weixinUserId: Type.Optional(WeixinUserId),
          sms_code: Type.Optional(SmsCode),
        }),
        response: { 200: Envelope(StaffProfile), ...errorResponses(400, 401, 403, 404, 502, 503) },
      },
    },
    async (req) => ok(await bindings.bindStaff(callerOf(req), req.body)),
  );
}

/** 3.3, 3.4: a visitor binds their WeChat to their phone. */
function visitorBindingRoutes(app: FastifyInstance, { bindings }: Deps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/v1/visitor/binding',
    {
      config: { auth: 'session', callerParams: callerWx('query') },
      schema: {
        tags: ['binding'],
        summary: '3.3 Visitor: is my WeChat bound? ({} when not)',
        security: BearerAuth,
        querystring: wxQuery,
        response: { 200: Envelope(Type.Union([VisitorProfile, EmptyObject])), ...errorResponses(401, 403, 502, 503) },
      },
    },
    async (req) => ok((await bindings.visitorStatus(callerOf(req))) ?? {}),
  );

  r.post(
    '/v1/visitor/binding',
    {
      config: { auth: 'session', callerParams: callerWx('body') },
      schema: {
        tags: ['binding'],
        summary: '3.4 Visitor: bind my WeChat',
        security: BearerAuth,
        body: Type.Object({ phone: PhoneInput, weixinUserId: Type.Optional(WeixinUserId), sms_code: Type.Optional(SmsCode) }),
        response: { 200: Envelope(VisitorProfile), ...errorResponses(400, 401, 403, 502, 503) },
      },
    },
    async (req) => ok(await bindings.bindVisitor(callerOf(req), req.body)),
  );
}

/** 3.5, 3.6: unbinding, and who the caller is. */
function callerRoutes(app: FastifyInstance, { bindings }: Deps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.delete(
    '/v1/subject/binding/:weixinUserId',
    {
      config: { auth: 'session', callerParams: callerWx('params') },
      schema: {
        tags: ['binding'],
        summary: '3.5 Unbind my WeChat (staff or visitor)',
        security: BearerAuth,
        params: Type.Object({ weixinUserId: Type.String({ minLength: 1, maxLength: 128 }) }),
        response: { 200: Envelope(EmptyObject), ...errorResponses(401, 403, 502, 503) },
      },
    },
    async (req) => {
      await bindings.unbind(callerOf(req));
      return ok({});
    },
  );

  r.get(
    '/v1/wechat/is_binding',
    {
      config: { auth: 'session', callerParams: callerWx('query') },
      schema: {
        tags: ['binding'],
        summary: '3.6 Who am I? (404 NOT_BOUND when not bound)',
        security: BearerAuth,
        querystring: wxQuery,
        response: {
          200: Envelope(
            Type.Object({
              type: Type.Union([Type.Literal('employee'), Type.Literal('visitor')]),
              name: Type.String(),
              department: Type.String(),
              subject_id: Type.Integer(),
              avatar: Type.String(),
              phone: Type.String(),
            }),
          ),
          ...errorResponses(401, 403, 404, 502, 503),
        },
      },
    },
    async (req) => ok(await bindings.whoAmI(callerOf(req))),
  );
}
