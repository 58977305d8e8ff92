import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { TEMPLATE_NAMES } from '../../config.js';
import { adminOf } from '../../http/auth.js';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth } from '../../http/schemas.js';
import type { SettingsChanges } from '../settings/changes.js';
import type { ServerSettings } from '../settings/servers.js';
import type { TemplateSettings } from '../settings/templates.js';

const ServersSchema = Type.Object({
  koala_url: Type.String(),
  koala_username: Type.String(),
  koala_password: Type.String({ description: '"******" when a password is set, "" otherwise; never the clear text' }),
  koala_password_set: Type.Boolean(),
  cloud_url: Type.String(),
  stored: Type.Array(Type.String(), { description: 'fields that come from the database (the others from the environment)' }),
});

/** A change of servers; a new koala_url or cloud_url needs the proof beside it (settings/servers.ts). */
const ServersBody = Type.Object(
  {
    koala_url: Type.Optional(Type.String({ maxLength: 512 })),
    koala_username: Type.Optional(Type.String({ maxLength: 128 })),
    koala_password: Type.Optional(Type.String({ maxLength: 256, description: 'omit or send "******" to keep the stored one; required with a new koala_url' })),
    cloud_url: Type.Optional(Type.String({ maxLength: 512 })),
    admin_password: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: "the caller's own admin password; required with a new cloud_url, checked whenever sent" }),
    ),
  },
  { additionalProperties: false },
);

const TemplateId = Type.Union([Type.String({ maxLength: 64 }), Type.Null()]);
const TemplateIds = Type.Object({ sms: Type.Optional(TemplateId), wechat: Type.Optional(TemplateId) }, { additionalProperties: false });
const TemplateView = Type.Object({ sms: Type.String(), wechat: Type.String(), sms_source: Type.String(), wechat_source: Type.String() });
const TemplatesSchema = Type.Object(Object.fromEntries(TEMPLATE_NAMES.map((n) => [n, TemplateView])));

export interface SettingsRouteDeps {
  servers: ServerSettings;
  templates: TemplateSettings;
  changes: SettingsChanges;
}

/** The run-time settings: Koala and cloud connections, template ids (docs/api-contract-frontdesk.md). */
export function settingsRoutes(app: FastifyInstance, deps: SettingsRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const actor = (id: number) => ({ kind: 'admin' as const, id: String(id) });

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
        description:
          'A new koala_url needs koala_password in the same request (the stored password is never sent to a new address); ' +
          "a new cloud_url needs admin_password, the caller's own password (the cloud service answers every binding lookup).",
        security: BearerAuth,
        body: ServersBody,
        response: { 200: Envelope(ServersSchema), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req) => ok(await deps.changes.updateServers({ id: adminOf(req).id, address: req.ip }, req.body)),
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
    async (req) => ok(await deps.changes.updateTemplates(actor(adminOf(req).id), req.body)),
  );
}
