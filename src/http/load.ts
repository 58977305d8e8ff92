import type { FastifyReply } from 'fastify';

/**
 * Requests this process is answering right now: counted from the moment one arrives until its
 * response is finished or its connection closes ('close' comes in either case, so an aborted
 * request is not counted forever). The notification worker gives way while it is high.
 */
export class WebLoad {
  private current = 0;

  inFlight(): number {
    return this.current;
  }

  /** Called once per request, as it arrives. */
  arrived(reply: FastifyReply): void {
    this.current++;
    reply.raw.once('close', () => {
      this.current--;
    });
  }
}
