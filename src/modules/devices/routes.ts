import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { adminOf } from '../../http/auth.js';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth, decimalIntegers } from '../../http/schemas.js';
import type { DeviceManagement } from './management.js';
import type { Devices } from './service.js';

const Kind = Type.Union([Type.Literal('kiosk'), Type.Literal('turnstile')], { description: 'kiosk (sign-in) or turnstile (QR check)' });
const DeviceSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  kind: Kind,
  created_at: Type.Integer({ description: 'Unix seconds' }),
  revoked_at: Type.Union([Type.Integer(), Type.Null()], { description: 'Unix seconds; null while active' }),
});

/** Device management (docs/api-contract-frontdesk.md, "Devices"); admins only. */
export function deviceRoutes(app: FastifyInstance, deps: { devices: Devices; management: DeviceManagement }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { devices, management } = deps;
  const actor = (id: number) => ({ kind: 'admin' as const, id: String(id) });

  r.post(
    '/v1/devices',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Register a kiosk or turnstile; its token is shown here once',
        security: BearerAuth,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' }),
            kind: Kind,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Envelope(Type.Object({ ...DeviceSchema.properties, token: Type.String({ description: 'Authorization: Device <token>; not shown again' }) })),
          ...errorResponses(400, 401),
        },
      },
    },
    async (req) => {
      const d = await management.register(actor(adminOf(req).id), req.body);
      return ok({ id: d.id, name: d.name, kind: d.kind, token: d.token, created_at: d.createdAt, revoked_at: null });
    },
  );

  r.get(
    '/v1/devices',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Every registered device (tokens are never shown again)',
        security: BearerAuth,
        response: { 200: Envelope(Type.Array(DeviceSchema)), ...errorResponses(401) },
      },
    },
    async () => ok((await devices.list()).map((d) => ({ id: d.id, name: d.name, kind: d.kind, created_at: d.createdAt, revoked_at: d.revokedAt }))),
  );

  r.delete(
    '/v1/devices/:id',
    {
      config: { auth: 'admin' },
      preValidation: decimalIntegers('params', ['id']),
      schema: {
        tags: ['admin'],
        summary: 'Revoke a device: its token stops working at once',
        security: BearerAuth,
        params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }),
        response: { 200: Envelope(Type.Object({ id: Type.Integer(), revoked: Type.Boolean() })), ...errorResponses(400, 401, 404) },
      },
    },
    async (req) => {
      await management.revoke(actor(adminOf(req).id), req.params.id);
      return ok({ id: req.params.id, revoked: true });
    },
  );
}
