import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { adminOf } from '../../http/auth.js';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth, decimalIntegers } from '../../http/schemas.js';
import { CreateExportBody, ExportId, ExportView } from './schemas.js';
import type { LedgerExports } from './service.js';

/** `attachment` with an ASCII fallback and the UTF-8 name (RFC 6266 / 5987). */
const disposition = (name: string) => `attachment; filename="${name.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`;

/** The visit ledger (访客台账): exports of the records listing as .xlsx or .csv, written by a background job. */
export function ledgerRoutes(app: FastifyInstance, deps: { exports: LedgerExports }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { exports } = deps;

  r.post(
    '/v1/admin/exports',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Admin: export the visit ledger (the listing’s filters) as .xlsx or .csv; a background job, see GET /v1/admin/exports/{id}',
        security: BearerAuth,
        body: CreateExportBody,
        response: { 200: Envelope(ExportView), ...errorResponses(400, 401, 409) },
      },
    },
    async (req) => ok(await exports.create(adminOf(req).id, { filters: req.body.filters ?? {}, ...req.body })),
  );

  r.get(
    '/v1/admin/exports',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "Admin: the caller's exports not yet expired, newest first (at most 20)",
        security: BearerAuth,
        response: { 200: Envelope(Type.Array(ExportView)), ...errorResponses(401) },
      },
    },
    async (req) => ok(await exports.list(adminOf(req).id)),
  );

  r.get(
    '/v1/admin/exports/:id',
    {
      config: { auth: 'admin' },
      preValidation: decimalIntegers('params', ['id']),
      schema: {
        tags: ['admin'],
        summary: "Admin: an export's progress (rows_done of rows_total) and state",
        security: BearerAuth,
        params: ExportId,
        response: { 200: Envelope(ExportView), ...errorResponses(400, 401, 404) },
      },
    },
    async (req) => ok(await exports.get(adminOf(req).id, req.params.id)),
  );

  r.get(
    '/v1/admin/exports/:id/file',
    {
      config: { auth: 'admin' },
      preValidation: decimalIntegers('params', ['id']),
      schema: {
        tags: ['admin'],
        summary: 'Admin: download a finished export (409 while it is being written); audited',
        security: BearerAuth,
        params: ExportId,
        produces: ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'text/csv'],
        response: { 200: Type.String({ description: 'the file' }), ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (req, reply) => {
      const file = await exports.file(adminOf(req).id, req.params.id);
      return reply
        .header('content-type', file.contentType)
        .header('content-length', String(file.bytes))
        .header('content-disposition', disposition(file.fileName))
        .header('cache-control', 'no-store')
        .send(file.body as never); // a stream: not serialised by the response schema
    },
  );
}
