import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { adminOf } from '../../http/auth.js';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth } from '../../http/schemas.js';
import type { AdminAccounts } from './service.js';

const SessionSchema = Type.Object({
  token: Type.String({ description: 'Authorization: Bearer <token> on admin routes' }),
  expires_at: Type.Integer({ description: 'Unix seconds' }),
  admin: Type.Object({ id: Type.Integer(), username: Type.String() }),
});

/** Admin login and password change (docs/api-contract-frontdesk.md). */
export function adminSessionRoutes(app: FastifyInstance, deps: { accounts: AdminAccounts }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

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
}
