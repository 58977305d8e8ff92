import type { FastifyInstance } from 'fastify';

/** What the health routes ask: whether the service has started, and whether its database answers. */
export interface HealthProbe {
  isReady(): boolean;
  ping(): Promise<unknown>;
}

/** /healthz: the process runs; /readyz: started, and the database answers. */
export function registerHealth(app: FastifyInstance, probe: HealthProbe): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ code: 0, err_msg: '', data: { status: 'ok' } }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    if (!(await isReady(probe))) return reply.code(503).send({ code: 503, err_msg: '服务尚未就绪', error: 'UPSTREAM_UNAVAILABLE' });
    return { code: 0, err_msg: '', data: { status: 'ready' } };
  });
}

/** Started, and the database answers. */
export async function isReady(probe: HealthProbe): Promise<boolean> {
  if (!probe.isReady()) return false;
  return probe.ping().then(
    () => true,
    () => false,
  );
}
