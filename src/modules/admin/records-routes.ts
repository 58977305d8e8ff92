import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { adminOf } from '../../http/auth.js';
import { Envelope, errorResponses, ListEnvelope, ok, okList } from '../../http/envelope.js';
import { BearerAuth, decimalIntegers } from '../../http/schemas.js';
import { Record } from '../applications/schemas.js';
import { cleanRecordFilter } from './records.js';
import { RecordFilterFields } from './schemas.js';
import type { AdminRecordService } from './records-service.js';

const AdminRecord = Type.Object({
  ...Record.properties,
  kind: Type.String({ description: 'invitation | request' }),
});

const Query = Type.Object({
  type: Type.Literal('web'),
  ...RecordFilterFields,
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
});

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
      const { rows, count } = await deps.records.list(cleanRecordFilter(q));
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
