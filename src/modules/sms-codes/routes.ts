import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { callerOf } from '../../http/auth.js';
import { EmptyObject, Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth, PhoneInput } from '../../http/schemas.js';
import { phoneField } from '../../phone.js';
import type { SmsCodes } from './service.js';

export function smsCodeRoutes(app: FastifyInstance, deps: { smsCodes: SmsCodes }): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/v1/sms/code',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['binding'],
        summary: '3.0 Send a 6-digit code to prove that I own a phone (1/min, 5/h, 10/day per phone; fewer per caller)',
        security: BearerAuth,
        body: Type.Object({ phone: PhoneInput }),
        response: { 200: Envelope(EmptyObject), ...errorResponses(400, 401, 429, 502, 503) },
      },
    },
    async (req) => {
      await deps.smsCodes.send(phoneField('phone', req.body.phone), { weixinUserId: callerOf(req), address: req.ip });
      return ok({});
    },
  );
}
