import { UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { httpGetBytes } from '../get-bytes.js';
import { parseJson, statusError, type HttpObserver, type HttpResponse } from '../http.js';
import type { KoalaEmployee, KoalaPage, KoalaPort, KoalaPurpose, KoalaVisitor, KoalaVisitorInput } from './port.js';
import { createKoalaSession, pathOnly, type KoalaSession } from './session.js';
import { isEmployee, isRecord, resolveUrl, saysNotFound, toEmployee, toInt, toPurposes, toVisitor, type Json } from './wire.js';

export interface KoalaClientOptions {
  baseUrl: string;
  username: string;
  password: string;
  timeoutMs: number;
  logger: Logger;
  /** Told of every call (metrics). */
  observer?: HttpObserver;
}

const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/** What each call needs: the session, and the box's address for its relative picture paths. */
interface Box {
  session: KoalaSession;
  baseUrl: string;
  timeoutMs: number;
}

/**
 * The real Koala protocol (api-contract.md §8): every call through one session (src/adapters/
 * koala/session.ts), each answer checked against Koala's envelope.
 */
export function createKoalaClient(opts: KoalaClientOptions): KoalaPort {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const box: Box = { session: createKoalaSession({ ...opts, baseUrl }), baseUrl, timeoutMs: opts.timeoutMs };
  return {
    searchEmployees: (name, page, size) => searchEmployees(box, name, page, size),
    getEmployee: (subjectId) => getEmployee(box, subjectId),
    listPurposes: () => listPurposes(box),
    fetchImage: (url) => fetchImage(box, url),
    createVisitor: (input) => createVisitor(box, input),
    findVisitors: (name) => findVisitors(box, name),
    deleteSubject: (subjectId) => deleteSubject(box, subjectId),
  };
}

async function searchEmployees(box: Box, name: string, page: number, size: number): Promise<KoalaPage<KoalaEmployee>> {
  const q = new URLSearchParams({ category: 'employee', name, page: String(page), size: String(size) });
  const what = 'GET /subject/list';
  const env = envelope(await box.session.call('GET', `/subject/list?${q.toString()}`), what);
  if (!Array.isArray(env.data)) throw new UpstreamError('koala', 'UPSTREAM_FAILED', `${what}: data is not a list`);
  const items = env.data
    .filter((raw) => isRecord(raw) && isEmployee(raw))
    .map((raw) => toEmployee(raw, box.baseUrl))
    .filter((e): e is KoalaEmployee => e !== null);
  const p = isRecord(env.page) ? env.page : {};
  const count = toInt(p.count) ?? items.length;
  const pageSize = toInt(p.size) ?? size;
  return {
    items,
    page: { count, current: toInt(p.current) ?? page, size: pageSize, total: toInt(p.total) ?? (pageSize > 0 ? Math.ceil(count / pageSize) : 0) },
  };
}

async function getEmployee(box: Box, subjectId: number): Promise<KoalaEmployee | null> {
  if (!Number.isInteger(subjectId) || subjectId <= 0) return null;
  const res = await box.session.call('GET', `/subject/${subjectId}`);
  if (res.status === 404) return null;
  const env = envelope(res, 'GET /subject/{id}', { notFoundIsNull: true });
  if (env === null || !isRecord(env.data) || Object.keys(env.data).length === 0) return null;
  if (!isEmployee(env.data)) return null;
  return toEmployee(env.data, box.baseUrl);
}

async function listPurposes(box: Box): Promise<KoalaPurpose[] | null> {
  const res = await box.session.call('GET', '/subjects/purpose');
  // A box without the route (older firmware) simply has no purpose list.
  if (res.status === 404) return null;
  return toPurposes(envelope(res, 'GET /subjects/purpose').data);
}

async function fetchImage(box: Box, url: string): Promise<{ contentType: string; body: Buffer }> {
  const absolute = resolveUrl(url, box.baseUrl);
  if (absolute === '') throw new UpstreamError('koala', 'UPSTREAM_FAILED', 'image URL is not an http(s) URL');
  // No cookie: pictures are public on the box, and the session must not leak to another host.
  // Only the box itself may be on a private network: a picture URL (or a redirect) that leads
  // elsewhere into one is refused, and the body is read up to the limit only.
  const res = await httpGetBytes('koala', absolute, { timeoutMs: box.timeoutMs, maxBytes: MAX_IMAGE_BYTES, trusted: [box.baseUrl] });
  if (res.status < 200 || res.status >= 300) throw statusError('koala', res.status, `GET ${pathOnly(new URL(absolute).pathname)}`);
  const contentType = res.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!contentType.startsWith('image/')) throw new UpstreamError('koala', 'UPSTREAM_FAILED', `image answer has content type ${JSON.stringify(contentType)}`);
  return { contentType, body: res.body };
}

async function createVisitor(box: Box, input: KoalaVisitorInput): Promise<number> {
  const what = 'POST /subject';
  const body = {
    subject_type: 1,
    name: input.name,
    phone: input.phone,
    start_time: input.startTime,
    end_time: input.endTime,
    interviewee: input.interviewee,
    purpose: input.purpose ?? 0,
    come_from: input.comeFrom ?? '',
    remark: input.remark ?? '',
  };
  const env = envelope(await box.session.call('POST', '/subject', body), what);
  const id = isRecord(env.data) ? toInt(env.data.id) : null;
  if (id === null || id <= 0) throw new UpstreamError('koala', 'UPSTREAM_FAILED', `${what}: answer has no subject id`);
  return id;
}

async function findVisitors(box: Box, name: string): Promise<KoalaVisitor[]> {
  const q = new URLSearchParams({ category: 'visitor', name, page: '1', size: '100' });
  const what = 'GET /subject/list';
  const env = envelope(await box.session.call('GET', `/subject/list?${q.toString()}`), what);
  if (!Array.isArray(env.data)) throw new UpstreamError('koala', 'UPSTREAM_FAILED', `${what}: data is not a list`);
  return env.data.map(toVisitor).filter((v): v is KoalaVisitor => v !== null);
}

async function deleteSubject(box: Box, subjectId: number): Promise<void> {
  const res = await box.session.call('DELETE', `/subject/${subjectId}`);
  if (res.status === 404) return; // already gone: the goal is reached
  envelope(res, 'DELETE /subject/{id}', { notFoundIsNull: true });
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
