import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';

/**
 * Shared machinery of the protocol simulators: an HTTP server on 127.0.0.1 that records what
 * it received and can be told to misbehave, so that tests (and fault drills from outside the
 * process) exercise the real clients against the real protocol.
 *
 * Control endpoints, the same on every simulator (never part of the simulated protocol):
 *   GET    /__sim/requests   every request received: {method, path, query, headers, body, at}
 *   DELETE /__sim/requests   forget them
 *   POST   /__sim/faults     {"status"?, "delay_ms"?, "times"?, "body"?, "path"?}: the next
 *                            `times` requests (default: until cleared) whose path contains
 *                            `path` wait `delay_ms`, then answer `status` with `body` (or, with
 *                            no status, answer normally after the delay); status 0 = drop the
 *                            connection without an answer
 *   DELETE /__sim/faults     back to normal
 *
 * In process, `addFault` stacks faults that each pick their requests (`match`), so that tests
 * running side by side can each break their own traffic; the first fault that applies wins.
 */
export interface Fault {
  status?: number;
  delayMs?: number;
  times?: number;
  body?: string;
  path?: string;
  contentType?: string;
  /** In process only: applies to the requests this accepts (e.g. one phone number). */
  match?: (req: ReceivedRequest) => boolean;
  /**
   * In process only: the request is handled as usual (a message is sent, a subject created) and
   * only its answer waits `delayMs` — the answer a client times out on after the work was done.
   */
  afterHandling?: boolean;
}

export interface ReceivedRequest {
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, unknown>;
  body: unknown;
  at: number;
}

export interface SimServer {
  app: FastifyInstance;
  received: ReceivedRequest[];
  /** Requests to routes this simulator does not speak: a client bug, which tests assert never happens. */
  unexpected: ReceivedRequest[];
  /** Replaces every fault with this one (null: back to normal). */
  setFault(fault: Fault | null): void;
  /** Adds a fault beside the others; returns a function that removes it. */
  addFault(fault: Fault): () => void;
  /** Listens on 127.0.0.1 (port 0 = any free port) and returns the base URL. */
  listen(port?: number): Promise<string>;
  close(): Promise<void>;
  url(): string;
}

export function createSimServer(name: string): SimServer {
  const app = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });
  const received: ReceivedRequest[] = [];
  const unexpected: ReceivedRequest[] = [];
  let faults: Array<Fault & { remaining: number }> = [];
  let baseUrl = '';

  void app.register(formbody);
  /** Requests handled as usual whose answer waits (Fault.afterHandling), with how long. */
  const heldAnswers = new WeakMap<FastifyRequest, number>();
  app.addHook('onSend', async (req, _reply, payload) => {
    const ms = heldAnswers.get(req);
    if (ms) await new Promise((r) => setTimeout(r, ms));
    return payload;
  });

  app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? req.url;
    if (path.startsWith('/__sim/')) return;
    const seen: ReceivedRequest = {
      method: req.method,
      path,
      query: { ...(req.query as object) },
      headers: { ...req.headers },
      body: req.body,
      at: Date.now(),
    };
    received.push(seen);
    const f = faults.find((x) => (!x.path || path.includes(x.path)) && (!x.match || x.match(seen)));
    if (!f) return;
    if (f.remaining !== Infinity) {
      f.remaining -= 1;
      if (f.remaining <= 0) faults = faults.filter((x) => x !== f);
    }
    if (f.afterHandling) {
      heldAnswers.set(req, f.delayMs ?? 0);
      return;
    }
    if (f.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
    if (f.status === 0) {
      req.raw.socket.destroy();
      return reply.hijack();
    }
    if (f.status !== undefined) {
      return reply
        .code(f.status)
        .header('content-type', f.contentType ?? 'application/json')
        .send(f.body ?? JSON.stringify({ code: f.status, err_msg: `${name} simulator fault` }));
    }
  });

  app.setNotFoundHandler((req, reply) => {
    unexpected.push({
      method: req.method,
      path: req.url.split('?')[0] ?? req.url,
      query: { ...(req.query as object) },
      headers: { ...req.headers },
      body: req.body,
      at: Date.now(),
    });
    return reply.code(404).send({ code: 404, err_msg: `${name} simulator: no such route ${req.method} ${req.url.split('?')[0]}` });
  });

  app.get('/__sim/requests', async () => received);
  app.delete('/__sim/requests', async () => {
    received.length = 0;
    return {};
  });
  app.post('/__sim/faults', async (req) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    setFault({
      status: typeof b.status === 'number' ? b.status : undefined,
      delayMs: typeof b.delay_ms === 'number' ? b.delay_ms : undefined,
      times: typeof b.times === 'number' ? b.times : undefined,
      body: typeof b.body === 'string' ? b.body : undefined,
      path: typeof b.path === 'string' ? b.path : undefined,
    });
    return {};
  });
  app.delete('/__sim/faults', async () => {
    setFault(null);
    return {};
  });

  function setFault(f: Fault | null): void {
    faults = f ? [{ ...f, remaining: f.times ?? Infinity }] : [];
  }

  function addFault(f: Fault): () => void {
    const added = { ...f, remaining: f.times ?? Infinity };
    faults.push(added);
    return () => {
      faults = faults.filter((x) => x !== added);
    };
  }

  return {
    app,
    received,
    unexpected,
    setFault,
    addFault,
    async listen(port = 0) {
      const address = await app.listen({ host: '127.0.0.1', port });
      baseUrl = address.replace('localhost', '127.0.0.1');
      return baseUrl;
    },
    async close() {
      await app.close();
    },
    url: () => baseUrl,
  };
}
