import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface BootServer {
  server: Server;
  /** For Fastify's `serverFactory`: remembers Fastify's handler and returns the listening server. */
  factory: (handler: Handler) => Server;
  /** From now on every request goes to Fastify. */
  activate(): void;
}

/**
 * Listens at once, before the database is opened (a new embedded database takes seconds to
 * create): /healthz answers 200, /readyz and everything else 503 "starting", until the app
 * takes over the same socket.
 */
export async function listenEarly(port: number, host: string): Promise<BootServer> {
  let fastifyHandler: Handler | null = null;
  let active = false;
  const server = createServer((req, res) => {
    if (active && fastifyHandler) return fastifyHandler(req, res);
    const path = (req.url ?? '/').split('?')[0];
    const starting = path === '/healthz';
    res.writeHead(starting ? 200 : 503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '2' });
    res.end(
      JSON.stringify(
        starting ? { code: 0, err_msg: '', data: { status: 'starting' } } : { code: 503, err_msg: '服务正在启动，请稍后再试', error: 'UPSTREAM_UNAVAILABLE' },
      ),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    factory: (handler) => {
      fastifyHandler = handler;
      return server;
    },
    activate: () => {
      active = true;
    },
  };
}
