import { UpstreamError, type UpstreamSystem } from '../errors.js';

export interface HttpCallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | URLSearchParams;
  timeoutMs: number;
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

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? err.message;
  }
  return String(err);
}
