import { Type } from 'typebox';
import { RecordFilterFields } from '../admin/schemas.js';

export const ExportFilters = Type.Object(RecordFilterFields, {
  additionalProperties: false,
  description: 'the filters of GET /v1/visit/records?type=web (without type, page, size)',
});

export const CreateExportBody = Type.Object(
  {
    filters: Type.Optional(ExportFilters),
    format: Type.Union([Type.Literal('xlsx'), Type.Literal('csv')]),
    full_phones: Type.Optional(Type.Boolean({ description: 'phones in full (default: masked 138****5678); needs `reason`' })),
    reason: Type.Optional(Type.String({ maxLength: 200, description: 'why full phones are needed (kept in the audit log)' })),
  },
  { additionalProperties: false },
);

export const ExportView = Type.Object({
  id: Type.Integer(),
  status: Type.String({ description: 'queued | running | done | failed' }),
  format: Type.String({ description: 'xlsx | csv' }),
  filters: ExportFilters,
  full_phones: Type.Boolean(),
  rows_total: Type.Union([Type.Integer(), Type.Null()], { description: 'records to write (null until counted)' }),
  rows_done: Type.Integer(),
  bytes: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.Integer({ description: 'Unix seconds' }),
  finished_at: Type.Union([Type.Integer(), Type.Null()]),
  expires_at: Type.Integer({ description: 'Unix seconds: after this the file is gone (404)' }),
});

export const ExportId = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });
