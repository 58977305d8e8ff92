import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { callerOf, type CallerParam } from '../../http/auth.js';
import { Envelope, errorResponses, ListEnvelope, ok, okList } from '../../http/envelope.js';
import { BearerAuth, decimalIntegers } from '../../http/schemas.js';
import { ApplyBody, ListQuery, parseStatuses, Record } from './schemas.js';
import type { Identity } from '../identity/service.js';
import type { Purposes } from '../staff/purposes.js';
import type { ListKind } from './repo.js';
import type { Applications } from './service.js';

interface RouteDeps {
  applications: Applications;
  identity: Identity;
  purposes: Purposes;
}

const router = (app: FastifyInstance) => app.withTypeProvider<TypeBoxTypeProvider>();
type Router = ReturnType<typeof router>;

const decimalPaging = decimalIntegers('query', ['page', 'size', 'is_auth']);

const wx = (source: CallerParam['source']): CallerParam => ({ source, field: 'weixinUserId', kind: 'weixinUserId' });

export function applicationRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const r = router(app);
  applyRoute(r, deps);
  purposesRoute(r, deps);
  listRoute(
    r,
    deps,
    '/v1/visit/records',
    '3.9 Applications that involve me (host, visitor or companion) and that somebody else proposed; newest first',
    [{ source: 'query', field: 'phone', kind: 'phone' }],
    'involving',
  );
  listRoute(
    r,
    deps,
    '/v1/auth/records',
    '3.10 Applications I proposed; newest first',
    [
      { source: 'query', field: 'proposer', kind: 'phone' },
      { source: 'query', field: 'phone', kind: 'phone' },
    ],
    'proposed',
  );
  authorizeRoute(r, deps);
}

function applyRoute(r: Router, { applications, identity }: RouteDeps): void {
  r.post(
    '/v1/subject',
    {
      config: { auth: 'session', callerParams: [wx('body'), { source: 'body', field: 'proposer', kind: 'phone' }] },
      schema: {
        tags: ['applications'],
        summary: '3.7 Apply for a visit: a staff invitation (I am the host) or a visitor request (I am the visitor)',
        security: BearerAuth,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) }),
        body: ApplyBody,
        response: { 200: Envelope(Record), ...errorResponses(400, 401, 403, 404, 409, 429, 502, 503) },
      },
    },
    async (req) => {
      const weixinUserId = callerOf(req);
      const phone = await identity.requirePhone(weixinUserId);
      const key = req.headers['idempotency-key'];
      return ok(await applications.apply({ weixinUserId, phone, address: req.ip }, req.body, typeof key === 'string' ? key : undefined));
    },
  );
}

function purposesRoute(r: Router, { purposes }: RouteDeps): void {
  r.get(
    '/v1/subject/purpose',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['applications'],
        summary: '3.8 Purposes of a visit (from Koala; a fixed list when Koala has none)',
        security: BearerAuth,
        response: { 200: Envelope(Type.Array(Type.Object({ label: Type.String(), value: Type.Integer() }))), ...errorResponses(401) },
      },
    },
    async () => ok(await purposes.list()),
  );
}

/** 3.9 and 3.10 differ only in which parameters name the caller and which list they read. */
function listRoute(r: Router, { applications, identity }: RouteDeps, path: string, summary: string, callerParams: CallerParam[], list: ListKind): void {
  r.get(
    path,
    {
      config: { auth: 'session', callerParams: [wx('query'), ...callerParams] },
      preValidation: decimalPaging,
      schema: {
        tags: ['applications'],
        summary,
        security: BearerAuth,
        querystring: ListQuery,
        response: { 200: ListEnvelope(Record), ...errorResponses(400, 401, 403, 502, 503) },
      },
    },
    async (req, reply) => {
      const { page, size, is_auth } = req.query;
      const filter = { isAuth: is_auth, status: parseStatuses(req.query.status) };
      const phone = await identity.requirePhone(callerOf(req));
      // Already the serialized envelope (often from the page cache): sent as it is.
      const body = await applications.pageJson(list, phone, filter, { page, size }, (rows, count) => JSON.stringify(okList(rows, count, page, size)));
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );
}

function authorizeRoute(r: Router, { applications, identity }: RouteDeps): void {
  r.put(
    '/v1/auth/:id',
    {
      config: { auth: 'session' },
      preValidation: decimalIntegers('params', ['id']),
      schema: {
        tags: ['applications'],
        summary: '3.11 Authorize an application (its host only; anyone else gets 404)',
        security: BearerAuth,
        params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }),
        response: { 200: Envelope(Record), ...errorResponses(400, 401, 403, 404, 502, 503) },
      },
    },
    async (req) => {
      const phone = await identity.requirePhone(callerOf(req));
      return ok(await applications.authorize(phone, req.params.id));
    },
  );
}
