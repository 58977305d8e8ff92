import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../errors.js';
import { errorResponses, ListEnvelope, okList } from '../../http/envelope.js';
import { BearerAuth, decimalIntegers } from '../../http/schemas.js';
import type { Audit } from './service.js';

const Entry = Type.Object({
  id: Type.Integer(),
  at: Type.Integer({ description: 'Unix seconds' }),
  actor_kind: Type.String(),
  actor_id: Type.String(),
  actor_name: Type.Union([Type.String(), Type.Null()], {
    description: "the admin's username, the device's or staff member's name; null for the system or once deleted",
  }),
  action: Type.String(),
  target_type: Type.String(),
  target_id: Type.String(),
  target_name: Type.Union([Type.String(), Type.Null()], {
    description: "a record's visitor and host, a device's name, an admin's username; null once deleted",
  }),
  detail: Type.Record(Type.String(), Type.Unknown()),
});

const Query = Type.Object({
  action: Type.Optional(Type.String({ maxLength: 64 })),
  actor_kind: Type.Optional(Type.String({ maxLength: 16 })),
  actor_id: Type.Optional(Type.String({ maxLength: 128 })),
  actor: Type.Optional(Type.String({ maxLength: 128, description: "an admin's username, a device's name, or an actor id" })),
  target_type: Type.Optional(Type.String({ maxLength: 32 })),
  target_id: Type.Optional(Type.String({ maxLength: 128 })),
  start_time: Type.Optional(Type.Integer({ minimum: 0 })),
  end_time: Type.Optional(Type.Integer({ minimum: 0 })),
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
});

/** GET /v1/audit: the audit log, newest first, admins only. */
export function auditRoutes(app: FastifyInstance, deps: { audit: Audit }): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/v1/audit',
    {
      config: { auth: 'admin' },
      preValidation: decimalIntegers('query', ['page', 'size', 'start_time', 'end_time']),
      schema: {
        tags: ['admin'],
        summary: 'Audit log, newest first, with who and what by name (exact-match filters)',
        security: BearerAuth,
        querystring: Query,
        response: { 200: ListEnvelope(Entry), ...errorResponses(400, 401) },
      },
    },
    async (req) => {
      const q = req.query;
      if (q.start_time !== undefined && q.end_time !== undefined && q.start_time > q.end_time)
        throw new AppError('VALIDATION_FAILED', '字段 end_time 不能早于 start_time');
      const { rows, count } = await deps.audit.list({ ...q, actor: q.actor?.trim() || undefined });
      return okList(rows, count, req.query.page, req.query.size);
    },
  );
}
