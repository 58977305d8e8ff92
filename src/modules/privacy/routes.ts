import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { adminOf } from '../../http/auth.js';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth, PhoneInput } from '../../http/schemas.js';
import type { Privacy } from './service.js';

const ExportSchema = Type.Object({
  phone: Type.String(),
  applications: Type.Array(Type.Unknown()),
  companion_of: Type.Array(Type.Object({ application_id: Type.Integer(), name: Type.String(), created_at: Type.Integer() })),
  notifications: Type.Array(Type.Unknown()),
  sms_codes: Type.Array(Type.Object({ created_at: Type.String(), expires_at: Type.String(), spent: Type.Boolean() })),
  staff: Type.Union([Type.Null(), Type.Object({ subject_id: Type.Integer(), name: Type.String(), department: Type.String() })]),
  audit: Type.Array(
    Type.Object({
      id: Type.Integer(),
      at: Type.Integer(),
      actor_kind: Type.String(),
      actor_id: Type.String(),
      action: Type.String(),
      target_type: Type.String(),
      target_id: Type.String(),
      detail: Type.Unknown(),
    }),
    { description: 'audit entries that name the phone (as actor, target or in their detail)' },
  ),
  pictures: Type.Array(
    Type.Object({
      kind: Type.Literal('avatar'),
      source_url: Type.String(),
      storage_key: Type.String(),
      content_type: Type.String(),
      bytes: Type.Integer(),
      landed_at: Type.String(),
    }),
    { description: 'pictures held in our storage: the avatar landed from Koala for an employee' },
  ),
});

const ErasureSchema = Type.Object({
  phone: Type.String(),
  applications_deleted: Type.Integer(),
  companion_entries_deleted: Type.Integer(),
  passes_deleted: Type.Integer(),
  notifications_deleted: Type.Integer(),
  sms_codes_deleted: Type.Integer(),
  idempotency_keys_deleted: Type.Integer(),
  staff_cache_deleted: Type.Integer(),
  audit_entries_masked: Type.Integer({ description: 'audit entries kept, with the number replaced by its masked form' }),
  pictures_deleted: Type.Integer({ description: 'landed pictures (the avatar) forgotten and deleted from storage' }),
  not_held_here: Type.Array(Type.String()),
});

/**
 * The contract's field style (snake_case) for the answer's own fields and those of its list
 * items; stored payloads (what a message said) are exported as they were kept.
 */
function snakeKeys(value: unknown, depth = 0): unknown {
  if (Array.isArray(value)) return value.map((v) => snakeKeys(v, depth));
  if (depth > 1 || value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeKeys(v, depth + 1)]),
  );
}

const actor = (id: number) => ({ kind: 'admin' as const, id: String(id) });

/** PIPL requests about one phone number: admins only, each one audited by the operation. */
export function privacyRoutes(app: FastifyInstance, deps: { privacy: Privacy }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/v1/privacy/export',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Admin: everything held about one phone number (PIPL access request)',
        security: BearerAuth,
        querystring: Type.Object({ phone: PhoneInput }),
        response: { 200: Envelope(ExportSchema), ...errorResponses(400, 401) },
      },
    },
    async (req) => ok(snakeKeys(await deps.privacy.exportPhone(actor(adminOf(req).id), req.query.phone)) as never),
  );

  r.post(
    '/v1/privacy/erase',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Admin: erase everything held about one phone number (PIPL deletion request); says what is held elsewhere',
        security: BearerAuth,
        body: Type.Object({ phone: PhoneInput }),
        response: { 200: Envelope(ErasureSchema), ...errorResponses(400, 401, 409) },
      },
    },
    async (req) => ok(snakeKeys(await deps.privacy.erasePhone(actor(adminOf(req).id), req.body.phone)) as never),
  );
}
