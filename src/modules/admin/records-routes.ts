import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../errors.js';
import { adminOf } from '../../http/auth.js';
import { Envelope, errorResponses, ListEnvelope, ok, okList } from '../../http/envelope.js';
import { BearerAuth, decimalIntegers } from '../../http/schemas.js';
import { LIMITS } from '../../limits.js';
import { phoneField } from '../../phone.js';
import { Record } from '../applications/schemas.js';
import type { AdminRecordService } from './records-service.js';

const AdminRecord = Type.Object({
  ...Record.properties,
  kind: Type.String({ description: 'invitation | request' }),
  signin_time: Type.Union([Type.Integer(), Type.Null()]),
  signout_time: Type.Union([Type.Integer(), Type.Null()]),
});

const Time = Type.Integer({ minimum: 0, maximum: 4_102_444_800, description: 'Unix seconds' });
const Query = Type.Object({
  type: Type.Literal('web'),
  id: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'one record by its id' })),
  name: Type.Optional(Type.String({ maxLength: LIMITS.personName, description: 'substring of the visitor or a companion name' })),
  interviewee: Type.Optional(Type.String({ maxLength: LIMITS.personName, description: "substring of the host's name" })),
  phone: Type.Optional(Type.String({ maxLength: LIMITS.phoneInput, description: 'the visitor or a companion' })),
  interviewee_phone: Type.Optional(Type.String({ maxLength: LIMITS.phoneInput })),
  start_time: Type.Optional(Time),
  end_time: Type.Optional(Time),
  is_auth: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)])),
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
});

/** A phone filter: absent or blank is no filter; anything else must be a phone. */
const phoneFilter = (field: string, v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : phoneField(field, v));

/**
 * `GET /v1/visit/records?type=web` is the admin listing; without `type=web` the same path is
 * the phone API's 3.9 (auth 'session'). A route constraint derived from the query string picks
 * the route, so each keeps its own auth and schema and neither handler knows of the other.
 */
export function adminRecordRoutes(app: FastifyInstance, deps: { records: AdminRecordService }): void {
  if (!app.hasConstraintStrategy('recordsView')) {
    app.addConstraintStrategy({
      name: 'recordsView',
      storage() {
        const handlers = new Map<string, unknown>();
        return { get: (v: string) => (handlers.get(v) ?? null) as never, set: (v: string, h: unknown) => void handlers.set(v, h) };
      },
      deriveConstraint(req: { url?: string }) {
        const q = req.url?.indexOf('?') ?? -1;
        return q >= 0 && new URLSearchParams(req.url!.slice(q + 1)).get('type') === 'web' ? 'web' : undefined;
      },
      mustMatchWhenDerived: false,
    });
  }
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/v1/visit/records',
    {
      constraints: { recordsView: 'web' },
      // OpenAPI has one GET per path: list this one apart, so the phone API's 3.9 keeps its entry.
      config: { auth: 'admin', swaggerTransform: ({ schema }) => ({ schema, url: '/v1/visit/records?type=web' }) },
      preValidation: decimalIntegers('query', ['id', 'page', 'size', 'is_auth', 'start_time', 'end_time']),
      schema: {
        tags: ['admin'],
        summary: 'Admin: every application with filters, newest first (type=web)',
        security: BearerAuth,
        querystring: Query,
        response: { 200: ListEnvelope(AdminRecord), ...errorResponses(400, 401) },
      },
    },
    async (req) => {
      const q = req.query;
      if (q.start_time !== undefined && q.end_time !== undefined && q.start_time > q.end_time)
        throw new AppError('VALIDATION_FAILED', '字段 end_time 不能早于 start_time');
      const { rows, count } = await deps.records.list({
        ...q,
        name: q.name?.trim() || undefined,
        interviewee: q.interviewee?.trim() || undefined,
        phone: phoneFilter('phone', q.phone),
        interviewee_phone: phoneFilter('interviewee_phone', q.interviewee_phone),
      });
      return okList(rows, count, q.page, q.size);
    },
  );

  r.delete(
    '/v1/visit/records/:id',
    {
      config: { auth: 'admin' },
      preValidation: decimalIntegers('params', ['id']),
      schema: {
        tags: ['admin'],
        summary: 'Admin: delete an application (its pending notifications are cancelled)',
        security: BearerAuth,
        params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }),
        response: { 200: Envelope(Type.Object({ id: Type.Integer(), deleted: Type.Boolean() })), ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (req) => {
      await deps.records.remove({ kind: 'admin', id: String(adminOf(req).id) }, req.params.id);
      return ok({ id: req.params.id, deleted: true });
    },
  );
}
