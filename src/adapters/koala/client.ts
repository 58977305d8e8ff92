import { UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { httpCall, httpGetBytes, parseJson, statusError, type HttpResponse } from '../http.js';
import type { KoalaEmployee, KoalaPage, KoalaPort, KoalaPurpose, KoalaVisitor, KoalaVisitorInput } from './port.js';
import { isEmployee, isRecord, resolveUrl, saysNotFound, toEmployee, toInt, toPurposes, toVisitor, type Json } from './wire.js';

export interface KoalaClientOptions {
  baseUrl: string;
  username: string;
  password: string;
  timeoutMs: number;
  logger: Logger;
}

/** Koala refuses API logins from anything that does not introduce itself as its admin app. */
const USER_AGENT = 'Koala Admin';
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/**
 * The real Koala protocol (api-contract.md §8). One session cookie is shared by all calls;
 * it is obtained lazily, by one login however many calls are waiting for it, and renewed
 * once per call when Koala says it has expired (401, a redirect, or its HTML login page).
 */
export function createKoalaClient(opts: KoalaClientOptions): KoalaPort {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const log = opts.logger;
  let cookie: string | null = null;
  let loginInFlight: Promise<string> | null = null;

  function send(method: string, path: string, body: unknown, sessionCookie: string | null): Promise<HttpResponse> {
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: 'application/json' };
    if (sessionCookie) headers.Cookie = sessionCookie;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return httpCall('koala', `${baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: opts.timeoutMs,
    });
  }

  async function doLogin(): Promise<string> {
    const res = await send('POST', '/auth/login', { username: opts.username, password: opts.password }, null);
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
    cookie = pairs;
    log.info({ system: 'koala', username: opts.username }, 'logged in to Koala');
    return pairs;
  }

  /** Single-flight: concurrent callers share the login in progress. */
  function login(): Promise<string> {
    loginInFlight ??= doLogin().finally(() => {
      loginInFlight = null;
    });
    return loginInFlight;
  }

  /** A call with the session; on an expired session, one new login and one retry. */
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

  return {
    async searchEmployees(name: string, page: number, size: number): Promise<KoalaPage<KoalaEmployee>> {
      const q = new URLSearchParams({ category: 'employee', name, page: String(page), size: String(size) });
      const what = 'GET /subject/list';
      const env = envelope(await call('GET', `/subject/list?${q.toString()}`), what);
      if (!Array.isArray(env.data)) throw new UpstreamError('koala', 'UPSTREAM_FAILED', `${what}: data is not a list`);
      const items = env.data
        .filter((raw) => isRecord(raw) && isEmployee(raw))
        .map((raw) => toEmployee(raw, baseUrl))
        .filter((e): e is KoalaEmployee => e !== null);
      const p = isRecord(env.page) ? env.page : {};
      const count = toInt(p.count) ?? items.length;
      const pageSize = toInt(p.size) ?? size;
      return {
        items,
        page: { count, current: toInt(p.current) ?? page, size: pageSize, total: toInt(p.total) ?? (pageSize > 0 ? Math.ceil(count / pageSize) : 0) },
      };
    },

    async getEmployee(subjectId: number): Promise<KoalaEmployee | null> {
      if (!Number.isInteger(subjectId) || subjectId <= 0) return null;
      const what = 'GET /subject/{id}';
      const res = await call('GET', `/subject/${subjectId}`);
      if (res.status === 404) return null;
      const env = envelope(res, what, { notFoundIsNull: true });
      if (env === null || !isRecord(env.data) || Object.keys(env.data).length === 0) return null;
      if (!isEmployee(env.data)) return null;
      return toEmployee(env.data, baseUrl);
    },

    async listPurposes(): Promise<KoalaPurpose[] | null> {
      const res = await call('GET', '/subjects/purpose');
      // A box without the route (older firmware) simply has no purpose list.
      if (res.status === 404) return null;
      return toPurposes(envelope(res, 'GET /subjects/purpose').data);
    },

    async fetchImage(url: string): Promise<{ contentType: string; body: Buffer }> {
      const absolute = resolveUrl(url, baseUrl);
      if (absolute === '') throw new UpstreamError('koala', 'UPSTREAM_FAILED', 'image URL is not an http(s) URL');
      // No cookie: pictures are public on the box, and the session must not leak to another host.
      const res = await httpGetBytes('koala', absolute, opts.timeoutMs, MAX_IMAGE_BYTES);
      if (res.status < 200 || res.status >= 300) throw statusError('koala', res.status, `GET ${pathOnly(new URL(absolute).pathname)}`);
      const contentType = res.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
      if (!contentType.startsWith('image/'))
        throw new UpstreamError('koala', 'UPSTREAM_FAILED', `image answer has content type ${JSON.stringify(contentType)}`);
      return { contentType, body: res.body };
    },

    async createVisitor(input: KoalaVisitorInput): Promise<number> {
      const what = 'POST /subject';
      const env = envelope(
        await call('POST', '/subject', {
          subject_type: 1,
          name: input.name,
          phone: input.phone,
          start_time: input.startTime,
          end_time: input.endTime,
          interviewee: input.interviewee,
          purpose: input.purpose ?? 0,
          come_from: input.comeFrom ?? '',
          remark: input.remark ?? '',
        }),
        what,
      );
      const id = isRecord(env.data) ? toInt(env.data.id) : null;
      if (id === null || id <= 0) throw new UpstreamError('koala', 'UPSTREAM_FAILED', `${what}: answer has no subject id`);
      return id;
    },

    async findVisitors(name: string): Promise<KoalaVisitor[]> {
      const q = new URLSearchParams({ category: 'visitor', name, page: '1', size: '100' });
      const what = 'GET /subject/list';
      const env = envelope(await call('GET', `/subject/list?${q.toString()}`), what);
      if (!Array.isArray(env.data)) throw new UpstreamError('koala', 'UPSTREAM_FAILED', `${what}: data is not a list`);
      return env.data.map(toVisitor).filter((v): v is KoalaVisitor => v !== null);
    },

    async deleteSubject(subjectId: number): Promise<void> {
      const res = await call('DELETE', `/subject/${subjectId}`);
      if (res.status === 404) return; // already gone: the goal is reached
      envelope(res, 'DELETE /subject/{id}', { notFoundIsNull: true });
    },
  };
}

/**
 * Checks status and Koala's envelope. With `notFoundIsNull`, an error whose desc says the
 * subject does not exist gives null instead of throwing.
 */
function envelope(res: HttpResponse, what: string): Json;
function envelope(res: HttpResponse, what: string, o: { notFoundIsNull: true }): Json | null;
function envelope(res: HttpResponse, what: string, o?: { notFoundIsNull: true }): Json | null {
  if (res.status < 200 || res.status >= 300) throw statusError('koala', res.status, what);
  const body = parseJson('koala', res.text, what);
  if (!isRecord(body)) throw new UpstreamError('koala', 'UPSTREAM_FAILED', `${what}: answer is not an object`);
  const code = toInt(body.code);
  if (code === 0) return body;
  if (o?.notFoundIsNull && saysNotFound(body.desc)) return null;
  const desc = typeof body.desc === 'string' ? body.desc.slice(0, 200) : '';
  throw new UpstreamError('koala', 'UPSTREAM_FAILED', `${what}: code ${String(body.code)} ${desc}`.trim(), { providerCode: String(body.code) });
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
function pathOnly(path: string): string {
  return path.split('?')[0] ?? path;
}
