import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { TEMPLATE_NAMES } from '../../config.js';
import type { Db } from '../../db/client.js';
import { adminOf } from '../../http/auth.js';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth } from '../../http/schemas.js';
import type { Audit } from '../audit/service.js';
import type { ServerSettings } from '../settings/servers.js';
import type { TemplateSettings } from '../settings/templates.js';
import type { AdminAccounts } from './service.js';

const SessionSchema = Type.Object({
  token: Type.String({ description: 'Authorization: Bearer <token> on admin routes' }),
  expires_at: Type.Integer({ description: 'Unix seconds' }),
  admin: Type.Object({ id: Type.Integer(), username: Type.String() }),
});

const ServersSchema = Type.Object({
  koala_url: Type.String(),
  koala_username: Type.String(),
  koala_password: Type.String({ description: '"******" when a password is set, "" otherwise; never the clear text' }),
  koala_password_set: Type.Boolean(),
  cloud_url: Type.String(),
  stored: Type.Array(Type.String(), { description: 'fields that come from the database (the others from the environment)' }),
});

const TemplateId = Type.Union([Type.String({ maxLength: 64 }), Type.Null()]);
const TemplateIds = Type.Object({ sms: Type.Optional(TemplateId), wechat: Type.Optional(TemplateId) }, { additionalProperties: false });
const TemplateView = Type.Object({ sms: Type.String(), wechat: Type.String(), sms_source: Type.String(), wechat_source: Type.String() });
const TemplatesSchema = Type.Object(Object.fromEntries(TEMPLATE_NAMES.map((n) => [n, TemplateView])));

export interface AdminRouteDeps {
  db: Db;
  accounts: AdminAccounts;
  audit: Audit;
  servers: ServerSettings;
  templates: TemplateSettings;
}

/** Admin session, password, and the run-time settings (docs/api-contract-frontdesk.md). */
export function adminRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const actor = (id: number) => ({ kind: 'admin' as const, id: String(id) });

  r.post(
    '/v1/admin/session',
    {
      schema: {
        tags: ['admin'],
        summary: 'Admin login: username + password → admin token (failures are rate-limited per username and address)',
        body: Type.Object(
          { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 256 }) },
          { additionalProperties: false },
        ),
        response: { 200: Envelope(SessionSchema), ...errorResponses(400, 401, 429) },
      },
    },
    async (req) => ok(await deps.accounts.login(req.body.username, req.body.password, req.ip)),
  );

  r.put(
    '/v1/admin/password',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "Change the caller's password; every other session of this admin ends",
        security: BearerAuth,
        body: Type.Object(
          { old_password: Type.String({ minLength: 1, maxLength: 256 }), new_password: Type.String({ minLength: 1, maxLength: 256 }) },
          { additionalProperties: false },
        ),
        response: { 200: Envelope(SessionSchema), ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => ok(await deps.accounts.changePassword(adminOf(req).id, req.body.old_password, req.body.new_password)),
  );

  r.get(
    '/v1/config/servers',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Koala address and account, cloud URL (the password is masked)',
        security: BearerAuth,
        response: { 200: Envelope(ServersSchema), ...errorResponses(401) },
      },
    },
    async () => ok(await deps.servers.view()),
  );

  r.put(
    '/v1/config/servers',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Change the Koala address/account or the cloud URL; used from the next call on',
        security: BearerAuth,
        body: Type.Object(
          {
            koala_url: Type.Optional(Type.String({ maxLength: 512 })),
            koala_username: Type.Optional(Type.String({ maxLength: 128 })),
            koala_password: Type.Optional(Type.String({ maxLength: 256, description: 'omit or send "******" to keep the stored one' })),
            cloud_url: Type.Optional(Type.String({ maxLength: 512 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Envelope(ServersSchema), ...errorResponses(400, 401) },
      },
    },
    async (req) => {
      const admin = adminOf(req);
      await deps.db.transaction(async (tx) => {
        const changed = await deps.servers.update(tx, req.body);
        // The new addresses and account name; of the password only that it changed (never its value, not even sealed).
        const values = Object.fromEntries(
          (['koala_url', 'koala_username', 'cloud_url'] as const).filter((f) => changed.includes(f)).map((f) => [f, req.body[f]?.trim()]),
        );
        if (changed.length > 0)
          await deps.audit.record(tx, {
            actor: actor(admin.id),
            action: 'config.servers.update',
            targetType: 'settings',
            targetId: 'servers',
            detail: { changed, ...values },
          });
      });
      await deps.servers.refresh();
      return ok(await deps.servers.view());
    },
  );

  r.get(
    '/v1/config/templates',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'SMS and WeChat template ids of every event (database overrides, else the environment)',
        security: BearerAuth,
        response: { 200: Envelope(TemplatesSchema), ...errorResponses(401) },
      },
    },
    async () => ok(await deps.templates.view()),
  );

  r.put(
    '/v1/config/templates',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Override template ids per event and channel (null removes an override)',
        security: BearerAuth,
        body: Type.Record(Type.String(), TemplateIds),
        response: { 200: Envelope(TemplatesSchema), ...errorResponses(400, 401) },
      },
    },
    async (req) => {
      const admin = adminOf(req);
      await deps.db.transaction(async (tx) => {
        const changed = await deps.templates.update(tx, req.body);
        if (changed.length > 0)
          await deps.audit.record(tx, {
            actor: actor(admin.id),
            action: 'config.templates.update',
            targetType: 'settings',
            targetId: 'templates',
            detail: { changed, body: req.body },
          });
      });
      return ok(await deps.templates.view());
    },
  );
}
