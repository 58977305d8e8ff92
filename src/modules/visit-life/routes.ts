import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { callerOf } from '../../http/auth.js';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth, decimalIntegers } from '../../http/schemas.js';
import { Record } from '../applications/schemas.js';
import type { Identity } from '../identity/service.js';
import { CancelBody, IdParams, RejectBody, TimeBody, VisitDetail } from './schemas.js';
import type { VisitLife } from './service.js';

const decimalId = decimalIntegers('params', ['id']);

/** A visit's life on the phone (docs/api-contract-visits.md): read one, reject, cancel, move. */
export function visitLifeRoutes(app: FastifyInstance, deps: { life: VisitLife; identity: Identity }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { life, identity } = deps;
  const phoneOf = (req: Parameters<typeof callerOf>[0]) => identity.requirePhone(callerOf(req));

  r.get(
    '/v1/visit/:id',
    {
      config: { auth: 'session' },
      preValidation: decimalId,
      schema: {
        tags: ['applications'],
        summary: "One visit to any of its people (proposer, host, visitor, a companion), with its timeline and the caller's pass",
        security: BearerAuth,
        params: IdParams,
        response: { 200: Envelope(VisitDetail), ...errorResponses(400, 401, 403, 404, 502, 503) },
      },
    },
    async (req) => ok(await life.detail(await phoneOf(req), req.params.id)),
  );

  r.post(
    '/v1/visit/:id/reject',
    {
      config: { auth: 'session' },
      preValidation: decimalId,
      schema: {
        tags: ['applications'],
        summary: 'Reject a pending request with a reason (its host only; other people of the visit 403, anyone else 404)',
        security: BearerAuth,
        params: IdParams,
        body: RejectBody,
        response: { 200: Envelope(Record), ...errorResponses(400, 401, 403, 404, 409, 502, 503) },
      },
    },
    async (req) => ok(await life.reject(await phoneOf(req), req.params.id, req.body.reason)),
  );

  r.post(
    '/v1/visit/:id/cancel',
    {
      config: { auth: 'session' },
      preValidation: decimalId,
      schema: {
        tags: ['applications'],
        summary: 'Cancel a visit before sign-in (its proposer or host); everyone else of the visit is told',
        security: BearerAuth,
        params: IdParams,
        body: CancelBody,
        response: { 200: Envelope(Record), ...errorResponses(400, 401, 403, 404, 409, 502, 503) },
      },
    },
    async (req) => ok(await life.cancel(await phoneOf(req), req.params.id, req.body.reason)),
  );

  r.put(
    '/v1/visit/:id/time',
    {
      config: { auth: 'session' },
      preValidation: decimalId,
      schema: {
        tags: ['applications'],
        summary: 'Move a visit before sign-in: by its host (stays as it is), or by the visitor who proposed it (back to pending)',
        security: BearerAuth,
        params: IdParams,
        body: TimeBody,
        response: { 200: Envelope(Record), ...errorResponses(400, 401, 403, 404, 409, 502, 503) },
      },
    },
    async (req) => ok(await life.reschedule(await phoneOf(req), req.params.id, req.body.start_time, req.body.end_time)),
  );
}
