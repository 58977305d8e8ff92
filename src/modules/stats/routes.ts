import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth, decimalIntegers } from '../../http/schemas.js';
import { Statistics, StatsQuery } from './schemas.js';
import type { StatsService } from './service.js';

export function statsRoutes(app: FastifyInstance, deps: { stats: StatsService }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/v1/admin/stats',
    {
      config: { auth: 'admin' },
      preValidation: decimalIntegers('query', ['from', 'to', 'top']),
      schema: {
        tags: ['admin'],
        summary: 'Admin: visit statistics of a date range (per day/week, rankings, approval, no-shows, stays, peak hours, on site now)',
        security: BearerAuth,
        querystring: StatsQuery,
        response: { 200: Envelope(Statistics), ...errorResponses(400, 401) },
      },
    },
    async (req) => ok(await deps.stats.compute(req.query)),
  );
}
