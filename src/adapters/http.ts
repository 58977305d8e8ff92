import { UpstreamError, type UpstreamSystem } from '../errors.js';

export interface HttpCallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | URLSearchParams;
  timeoutMs: number;
  /** Told of the call once it ended (metrics): the composition root passes one in, the clients hand it on. */
  observer?: HttpObserver;
}

/**
 * How an outbound call ended, as the metrics count it: `ok` (2xx, 3xx), `client_error` (4xx: an
 * answer, often the protocol's own "no"), `server_error` (5xx), `timeout`, `unreachable` (refused,
 * reset, DNS, a body cut off).
 */
export type CallOutcome = 'ok' | 'client_error' | 'server_error' | 'timeout' | 'unreachable';

/** The narrow interface the metrics implement; this layer knows nothing more of them. */
export interface HttpObserver {
  observe(call: { system: UpstreamSystem; outcome: CallOutcome; seconds: number }): void;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
}

/**
 * One outbound HTTP call with a hard deadline. A timeout, a refused connection or a reset is
 * UPSTREAM_UNAVAILABLE (transient); statuses are returned to the caller, which knows the
 * protocol's meaning of each.
 */
export async function httpCall(system: UpstreamSystem, url: string, opts: HttpCallOptions): Promise<HttpResponse> {
  const started = performance.now();
  const done = (outcome: CallOutcome): void => opts.observer?.observe({ system, outcome, seconds: (performance.now() - started) / 1000 });
  try {
    const res = await exchange(system, url, opts);
    done(res.status >= 500 ? 'server_error' : res.status >= 400 ? 'client_error' : 'ok');
    return res;
  } catch (err) {
    done(isTimeout((err as { cause?: unknown }).cause) ? 'timeout' : 'unreachable');
    throw err;
  }
}

async function exchange(system: UpstreamSystem, url: string, opts: HttpCallOptions): Promise<HttpResponse> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.method ?? 'GET',
      headers: opts.headers,
      body: opts.body,
      signal: AbortSignal.timeout(opts.timeoutMs),
      redirect: 'manual',
    });
  } catch (err) {
    throw new UpstreamError(system, 'UPSTREAM_UNAVAILABLE', `${opts.method ?? 'GET'} ${redactUrl(url)} failed: ${describeFetchError(err)}`, { cause: err });
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw new UpstreamError(system, 'UPSTREAM_UNAVAILABLE', `reading ${redactUrl(url)} failed: ${describeFetchError(err)}`, { cause: err });
  }
  return { status: res.status, headers: res.headers, text };
}

/**
 * Maps an HTTP status the contract's way (§6): 502–504 mean "did not answer" (transient),
 * other 4xx/5xx mean "answered with an error".
 */
export function statusError(system: UpstreamSystem, status: number, what: string): UpstreamError {
  if (status >= 502 && status <= 504) return new UpstreamError(system, 'UPSTREAM_UNAVAILABLE', `${what}: HTTP ${status}`);
  return new UpstreamError(system, 'UPSTREAM_FAILED', `${what}: HTTP ${status}`, { transient: status >= 500 || status === 429 });
}

export function parseJson(system: UpstreamSystem, text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UpstreamError(system, 'UPSTREAM_FAILED', `${what}: answer is not JSON (${JSON.stringify(text.slice(0, 80))})`);
  }
}

/** Query strings can carry secrets (OAuth `secret`): never log them. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?…`;
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (isTimeout(err)) return 'timed out';
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? err.message;
  }
  return String(err);
}
