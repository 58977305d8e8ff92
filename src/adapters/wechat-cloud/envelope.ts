import { UpstreamError } from '../../errors.js';
import { maskPhone, type Logger } from '../../log.js';
import { httpCall, parseJson, statusError, type HttpObserver } from '../http.js';

export const SYSTEM = 'wechat-cloud';

/** The service's "this phone has no WeChat binding" answer (api-contract §8), also "no such binding". */
export const CODE_NOT_BOUND = 404;

/** Where the service is, and how long a call may take. */
export interface Cloud {
  /** Without a trailing slash. */
  base: string;
  timeoutMs: number;
  log: Logger;
  /** Told of every call (metrics). */
  observer?: HttpObserver;
}

/** The service's answer: `{ code, err_msg, data }`. */
export interface Envelope {
  code: number;
  errMsg: string;
  data: unknown;
}

/**
 * One call, answered by the envelope. Every call goes through httpCall, so no answer / refused /
 * reset is UPSTREAM_UNAVAILABLE (transient) and HTTP statuses map through statusError. An answer
 * that is not the protocol (a gateway's maintenance page, HTML, another service's JSON) is no
 * verdict on the request: UPSTREAM_FAILED, but transient, so a queued message is tried again
 * instead of being dropped.
 */
export async function callCloud(
  cloud: Cloud,
  method: string,
  path: string,
  what: string,
  init: { headers?: Record<string, string>; body?: string } = {},
): Promise<Envelope> {
  const res = await httpCall(SYSTEM, `${cloud.base}${path}`, {
    method,
    timeoutMs: cloud.timeoutMs,
    headers: init.headers,
    body: init.body,
    observer: cloud.observer,
  });
  if (res.status < 200 || res.status > 299) throw statusError(SYSTEM, res.status, what);
  let json: unknown;
  try {
    json = parseJson(SYSTEM, res.text, what);
  } catch (err) {
    throw err instanceof UpstreamError
      ? new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', err.detail?.replace(/^wechat-cloud: /, '') ?? what, { transient: true })
      : err;
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `${what}: answer is not an envelope`, { transient: true });
  }
  const env = json as Record<string, unknown>;
  // Some deployments send the code as a string ("0"); a missing code is not an answer we understand.
  const code = typeof env.code === 'number' ? env.code : typeof env.code === 'string' && env.code.trim() !== '' ? Number(env.code) : NaN;
  if (!Number.isFinite(code)) throw new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `${what}: envelope without a numeric code`, { transient: true });
  return { code, errMsg: typeof env.err_msg === 'string' ? env.err_msg : '', data: env.data };
}

/** An error `code` in an HTTP 200 envelope: the service's verdict, permanent. */
export function refused(what: string, env: Envelope): UpstreamError {
  return new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `${what}: code ${env.code} ${maskPhone(env.errMsg)}`, {
    transient: false,
    providerCode: String(env.code),
  });
}
