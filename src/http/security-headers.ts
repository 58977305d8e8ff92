import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Helmet's headers, computed once. Without nonces they are the same on every answer, but
 * @fastify/helmet builds a helmet middleware (and parses the CSP directives) on every request:
 * ~6 % of a cached records page's CPU. Here helmet itself runs once, against a
 * response that only records what it sets, and every answer gets that record.
 */
export function securityHeaders(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
    getHeader(name: string) {
      return headers[name.toLowerCase()];
    },
  };
  let failure: unknown = null;
  helmet(options)({ headers: {} } as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) failure = err;
  });
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  if (!headers['content-security-policy']) throw new Error('helmet set no Content-Security-Policy: its middleware changed');
  return Object.freeze(headers);
}
