import { and, count, desc, eq, gte, lte, type SQL } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Db } from '../../db/client.js';
import { auditLog } from '../../db/schema.js';
import { errorResponses, ListEnvelope, okList } from '../../http/envelope.js';
import { BearerAuth, decimalIntegers } from '../../http/schemas.js';

const Entry = Type.Object({
  id: Type.Integer(),
  at: Type.Integer({ description: 'Unix seconds' }),
  actor_kind: Type.String(),
  actor_id: Type.String(),
  action: Type.String(),
  target_type: Type.String(),
  target_id: Type.String(),
  detail: Type.Record(Type.String(), Type.Unknown()),
});

const Query = Type.Object({
  action: Type.Optional(Type.String({ maxLength: 64 })),
  actor_kind: Type.Optional(Type.String({ maxLength: 16 })),
  actor_id: Type.Optional(Type.String({ maxLength: 128 })),
  target_type: Type.Optional(Type.String({ maxLength: 32 })),
  target_id: Type.Optional(Type.String({ maxLength: 128 })),
  start_time: Type.Optional(Type.Integer({ minimum: 0 })),
  end_time: Type.Optional(Type.Integer({ minimum: 0 })),
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
});

/** GET /v1/audit: the audit log, newest first, admins only. */
export function auditRoutes(app: FastifyInstance, deps: { db: Db }): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/v1/audit',
    {
      config: { auth: 'admin' },
      preValidation: decimalIntegers('query', ['page', 'size', 'start_time', 'end_time']),
      schema: {
        tags: ['admin'],
        summary: 'Audit log, newest first (exact-match filters)',
        security: BearerAuth,
        querystring: Query,
        response: { 200: ListEnvelope(Entry), ...errorResponses(400, 401) },
      },
    },
    async (req) => {
      const q = req.query;
      const where: SQL[] = [];
      if (q.action) where.push(eq(auditLog.action, q.action));
      if (q.actor_kind) where.push(eq(auditLog.actorKind, q.actor_kind));
      if (q.actor_id) where.push(eq(auditLog.actorId, q.actor_id));
      if (q.target_type) where.push(eq(auditLog.targetType, q.target_type));
      if (q.target_id) where.push(eq(auditLog.targetId, q.target_id));
      if (q.start_time !== undefined) where.push(gte(auditLog.at, q.start_time));
      if (q.end_time !== undefined) where.push(lte(auditLog.at, q.end_time));
      const filter = where.length > 0 ? and(...where) : undefined;
      const [rows, [total]] = await Promise.all([
        deps.db
          .select()
          .from(auditLog)
          .where(filter)
          .orderBy(desc(auditLog.at), desc(auditLog.id))
          .limit(q.size)
          .offset((q.page - 1) * q.size),
        deps.db.select({ n: count() }).from(auditLog).where(filter),
      ]);
      const data = rows.map((r) => ({
        id: r.id,
        at: r.at,
        actor_kind: r.actorKind,
        actor_id: r.actorId,
        action: r.action,
        target_type: r.targetType,
        target_id: r.targetId,
        detail: r.detail as Record<string, unknown>,
      }));
      return okList(data, total?.n ?? 0, q.page, q.size);
    },
  );
}
