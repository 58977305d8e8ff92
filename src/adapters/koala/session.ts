import { UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { httpCall, parseJson, statusError, type HttpObserver, type HttpResponse } from '../http.js';
import { isRecord, toInt } from './wire.js';

/** Koala refuses API logins from anything that does not introduce itself as its admin app. */
const USER_AGENT = 'Koala Admin';

export interface KoalaSessionOptions {
  /** Without a trailing slash. */
  baseUrl: string;
  username: string;
  password: string;
  timeoutMs: number;
  logger: Logger;
  /** Told of every call (metrics). */
  observer?: HttpObserver;
}

/** Calls to Koala with its session cookie. */
export interface KoalaSession {
  /** A call with the session; on an expired session, one new login and one retry. */
  call(method: string, path: string, body?: unknown): Promise<HttpResponse>;
}

/**
 * One session cookie shared by all calls. It is obtained lazily, by one login however many calls
 * are waiting for it, and renewed once per call when Koala says it has expired (401, a
 * redirect, or its HTML login page).
 */
export function createKoalaSession(opts: KoalaSessionOptions): KoalaSession {
  const log = opts.logger;
  let cookie: string | null = null;
  let loginInFlight: Promise<string> | null = null;
  const send = (method: string, path: string, body: unknown, sessionCookie: string | null) => sendToKoala(opts, method, path, body, sessionCookie);

  async function doLogin(): Promise<string> {
    cookie = await logIn(opts);
    return cookie;
  }

  /** Single-flight: concurrent callers share the login in progress. */
  function login(): Promise<string> {
    loginInFlight ??= doLogin().finally(() => {
      loginInFlight = null;
    });
    return loginInFlight;
  }

  async function call(method: string, path: string, body?: unknown): Promise<HttpResponse> {
    const used = cookie ?? (await login());
    const res = await send(method, path, body, used);
    if (!isSessionRefused(res)) return res;
    // Another call may already have renewed the session: only drop the cookie we used.
    if (cookie === used) cookie = null;
    log.warn({ system: 'koala', path: pathOnly(path), status: res.status }, 'Koala session expired, logging in again');
    const fresh = cookie ?? (await login());
    const retry = await send(method, path, body, fresh);
    if (isSessionRefused(retry)) {
      if (cookie === fresh) cookie = null;
      throw new UpstreamError('koala', 'UPSTREAM_FAILED', `${method} ${pathOnly(path)}: session refused again right after a new login (HTTP ${retry.status})`);
    }
    return retry;
  }

  return { call };
}

function sendToKoala(opts: KoalaSessionOptions, method: string, path: string, body: unknown, sessionCookie: string | null): Promise<HttpResponse> {
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: 'application/json' };
  if (sessionCookie) headers.Cookie = sessionCookie;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return httpCall('koala', `${opts.baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs: opts.timeoutMs,
    observer: opts.observer,
  });
}

/** POST /auth/login: the session cookie, or an UpstreamError saying why not. */
async function logIn(opts: KoalaSessionOptions): Promise<string> {
  const log = opts.logger;
  const res = await sendToKoala(opts, 'POST', '/auth/login', { username: opts.username, password: opts.password }, null);
  if (res.status < 200 || res.status >= 300) throw statusError('koala', res.status, 'POST /auth/login');
  const body = parseJson('koala', res.text, 'POST /auth/login');
  if (!isRecord(body) || toInt(body.code) !== 0) {
    const code = isRecord(body) ? String(body.code) : '?';
    const desc = isRecord(body) && typeof body.desc === 'string' ? body.desc : '';
    log.error({ system: 'koala', username: opts.username, providerCode: code }, 'Koala refused the login');
    throw new UpstreamError('koala', 'UPSTREAM_FAILED', `login refused: code ${code} ${desc}`.trim(), { providerCode: code });
  }
  const pairs = cookiePairs(res.headers);
  if (pairs === '') throw new UpstreamError('koala', 'UPSTREAM_FAILED', 'login answered without a session cookie');
  log.info({ system: 'koala', username: opts.username }, 'logged in to Koala');
  return pairs;
}

/**
 * How Koala says "log in first": 401, a redirect to its login page, or that page itself
 * (HTML with 200). A 5xx HTML page from a proxy is not a session problem: it maps by status.
 */
function isSessionRefused(res: HttpResponse): boolean {
  if (res.status === 401 || (res.status >= 300 && res.status < 400)) return true;
  if (res.status < 200 || res.status >= 300) return false;
  return (res.headers.get('content-type') ?? '').toLowerCase().includes('text/html') || res.text.trimStart().startsWith('<');
}

/** The `name=value` pairs of every Set-Cookie, as a Cookie header ('' when none). */
function cookiePairs(headers: Headers): string {
  const jar = new Map<string, string>();
  for (const line of headers.getSetCookie()) {
    const pair = line.split(';')[0]?.trim() ?? '';
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const value = pair.slice(eq + 1).trim();
    // An empty value is the server deleting a cookie, not setting one.
    if (value === '') jar.delete(pair.slice(0, eq).trim());
    else jar.set(pair.slice(0, eq).trim(), value);
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** Query strings (the name searched for) stay out of logs and error details. */
export function pathOnly(path: string): string {
  return path.split('?')[0] ?? path;
}
