import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createSimServer, type SimServer } from '../simulator.js';
import { DEMO_IMAGES, SELF_ORIGIN, demoEmployees, demoPurposes, demoVisitors, solidPng, type KoalaSimSubject } from './demo-data.js';

/**
 * A Koala box over HTTP, speaking the protocol the real client speaks (api-contract.md §8):
 * cookie sessions from `POST /auth/login` (which insists on `User-Agent: Koala Admin`), the
 * `{code, data, page}` envelope and `{code: <negative>, desc}` errors, expired sessions
 * answered with 401 or (switchable, as some Koala versions do) an HTML login page, and
 * pictures under /static/upload/ that need no cookie.
 *
 * Inspection (not Koala): GET /__sim/koala/subjects lists every subject, GET /__sim/koala/visitors
 * the visitors (subject_type 1) only.
 */
export interface KoalaSimulatorOptions {
  port?: number;
  username?: string;
  password?: string;
  /** Employees to start with (Koala wire shape); default: the demo staff. */
  employees?: KoalaSimSubject[];
  /** Raw `data` of /subjects/purpose (any shape Koala may send); null = no list. */
  purposes?: unknown;
  sessionTtlMs?: number;
  /** Clock for session lifetimes (tests); defaults to Date.now. */
  now?: () => number;
  /** How an unknown or expired session is refused. */
  expiredAnswer?: ExpiredAnswer;
}

export type ExpiredAnswer = 'status' | 'html';

export interface KoalaSimulator {
  url: string;
  server: SimServer;
  username: string;
  password: string;
  /** Successful logins so far. */
  readonly logins: number;
  close(): Promise<void>;
  /** Forgets every session: the next call with an old cookie is refused as expired. */
  expireSessions(): void;
  setExpiredAnswer(mode: ExpiredAnswer): void;
  /** Adds an employee (subject_type 0); missing fields get defaults; returns it as stored. */
  addEmployee(input: Partial<KoalaSimSubject> & { name: string }): KoalaSimSubject;
  removeSubject(id: number): boolean;
  setPurposes(list: unknown): void;
  /**
   * Serves a picture under `path` (e.g. /static/upload/avatar/x.png) without a cookie; `body` may
   * be a function giving a fresh stream per request (a huge or endless answer).
   */
  addImage(path: string, body: Buffer | (() => Readable), contentType?: string): void;
  /** Answers `path` with a redirect to `location` (a box that sends its pictures elsewhere). */
  redirectImage(path: string, location: string, status?: number): void;
  subjects(): KoalaSimSubject[];
  /** The visitors (subject_type 1), by id. */
  visitors(): KoalaSimSubject[];
}

export const KOALA_SIM_USERNAME = 'admin@koala.demo';
export const KOALA_SIM_PASSWORD = 'koala-demo-password';

const SESSION_COOKIE = 'session';
const LOGIN_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Koala 登录</title></head><body><form action="/auth/login" method="post"><input name="username"><input name="password" type="password"></form></body></html>';

export async function startKoalaSimulator(opts: KoalaSimulatorOptions = {}): Promise<KoalaSimulator> {
  const sim = createSimServer('koala');
  const app = sim.app;
  const username = opts.username ?? KOALA_SIM_USERNAME;
  const password = opts.password ?? KOALA_SIM_PASSWORD;
  const ttlMs = opts.sessionTtlMs ?? 30 * 60_000;
  const now = opts.now ?? Date.now;
  let expiredAnswer: ExpiredAnswer = opts.expiredAnswer ?? 'status';
  let purposes: unknown = opts.purposes === undefined ? demoPurposes() : opts.purposes;
  let logins = 0;
  const sessions = new Map<string, number>(); // token → expires at (ms)
  const subjects = new Map<number, KoalaSimSubject>();
  const images = new Map<string, { body: Buffer | (() => Readable); contentType: string; location?: string; status?: number }>();
  for (const s of [...(opts.employees ?? demoEmployees()), ...demoVisitors()]) subjects.set(s.id, structuredClone(s));
  for (const img of DEMO_IMAGES) images.set(img.path, { body: solidPng(img.color), contentType: 'image/png' });
  let nextId = Math.max(3000, ...subjects.keys()) + 1;

  const ok = (data: unknown, page?: object) => (page ? { code: 0, data, page } : { code: 0, data });
  const fail = (reply: FastifyReply, status: number, code: number, desc: string) => reply.code(status).send({ code, desc });
  /** The demo data names the simulator's own origin with a placeholder: fill it in. */
  const render = (s: KoalaSimSubject): KoalaSimSubject => JSON.parse(JSON.stringify(s).replaceAll(SELF_ORIGIN, sim.url())) as KoalaSimSubject;

  function sessionOf(req: FastifyRequest): string | null {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === SESSION_COOKIE) return v.join('=');
    }
    return null;
  }

  // Runs after the base's fault hook, so injected faults win over authentication.
  app.addHook('preHandler', async (req, reply) => {
    const path = req.url.split('?')[0] ?? req.url;
    if (path.startsWith('/__sim/') || path.startsWith('/static/') || path === '/auth/login') return;
    const token = sessionOf(req);
    const expiresAt = token === null ? undefined : sessions.get(token);
    if (expiresAt !== undefined && expiresAt > now()) return;
    if (token !== null) sessions.delete(token);
    if (expiredAnswer === 'html') return reply.code(200).header('content-type', 'text/html; charset=utf-8').send(LOGIN_PAGE);
    return fail(reply, 401, -401, '请先登录');
  });

  app.post('/auth/login', async (req, reply) => {
    // Without this header Koala treats the caller as the web console and refuses the API login.
    if (req.headers['user-agent'] !== 'Koala Admin') return fail(reply, 403, -403, 'User-Agent must be Koala Admin');
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (b.username !== username || b.password !== password) return fail(reply, 200, -101, '用户名或密码错误');
    const token = randomBytes(16).toString('hex');
    sessions.set(token, now() + ttlMs);
    logins += 1;
    // Two cookies, as a real box may send more than the session: clients must keep them all.
    reply.header('set-cookie', [`${SESSION_COOKIE}=${token}; HttpOnly; Path=/`, 'koala_lang=zh_CN; Path=/']);
    return ok({ id: 1, username, company_id: 1, role_id: 1 });
  });

  app.get('/subject/list', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const category = q.category ?? 'employee';
    const type = category === 'visitor' ? 1 : category === 'employee' ? 0 : null;
    const name = (q.name ?? '').trim().toLowerCase();
    const page = Math.max(1, Number.parseInt(q.page ?? '1', 10) || 1);
    const size = Math.min(1000, Math.max(1, Number.parseInt(q.size ?? '10', 10) || 10));
    const all = [...subjects.values()]
      .filter((s) => (type === null || s.subject_type === type) && s.name.toLowerCase().includes(name))
      .sort((a, b) => a.id - b.id);
    const items = all.slice((page - 1) * size, page * size).map(render);
    return ok(items, { count: all.length, current: page, size, total: Math.ceil(all.length / size) });
  });

  app.get('/subject/:id', async (req, reply) => {
    const s = subjects.get(Number((req.params as { id: string }).id));
    if (!s) return fail(reply, 404, -404, 'subject not found');
    return ok(render(s));
  });

  app.get('/subjects/purpose', async () => ok(purposes ?? []));

  app.post('/subject', async (req, reply) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (b.subject_type !== 1) return fail(reply, 200, -1, 'only visitors (subject_type 1) can be created here');
    if (typeof b.name !== 'string' || b.name.trim() === '') return fail(reply, 200, -1, 'name is required');
    const start = Number(b.start_time);
    const end = Number(b.end_time);
    if (!Number.isInteger(start) || !Number.isInteger(end) || start >= end) return fail(reply, 200, -1, 'start_time must be before end_time');
    const s: KoalaSimSubject = {
      id: nextId++,
      subject_type: 1,
      name: b.name,
      phone: typeof b.phone === 'string' ? b.phone : '',
      avatar: '',
      photos: [],
      start_time: start,
      end_time: end,
      interviewee: typeof b.interviewee === 'string' ? b.interviewee : '',
      purpose: typeof b.purpose === 'number' ? b.purpose : 0,
      come_from: typeof b.come_from === 'string' ? b.come_from : '',
      remark: typeof b.remark === 'string' ? b.remark : '',
      create_time: Math.floor(Date.now() / 1000),
    };
    subjects.set(s.id, s);
    return ok(render(s));
  });

  app.delete('/subject/:id', async (req, reply) => {
    const id = Number((req.params as { id: string }).id);
    if (!subjects.delete(id)) return fail(reply, 404, -404, 'subject not found');
    return ok({});
  });

  app.get('/static/*', async (req, reply) => {
    const img = images.get(req.url.split('?')[0] ?? '');
    if (!img) return reply.code(404).header('content-type', 'text/html').send('<h1>Not Found</h1>');
    if (img.location)
      return reply
        .code(img.status ?? 302)
        .header('location', img.location)
        .send();
    return reply.header('content-type', img.contentType).send(typeof img.body === 'function' ? img.body() : img.body);
  });

  app.get('/__sim/koala/subjects', async () => [...subjects.values()].sort((a, b) => a.id - b.id).map(render));
  app.get('/__sim/koala/visitors', async () =>
    [...subjects.values()]
      .filter((x) => x.subject_type === 1)
      .sort((a, b) => a.id - b.id)
      .map(render),
  );

  const url = await sim.listen(opts.port ?? 0);
  return {
    url,
    server: sim,
    username,
    password,
    get logins() {
      return logins;
    },
    close: () => sim.close(),
    expireSessions: () => sessions.clear(),
    setExpiredAnswer(mode) {
      expiredAnswer = mode;
    },
    addEmployee(input) {
      const s: KoalaSimSubject = { avatar: '', photos: [], phone: '', department: '', ...input, id: input.id ?? nextId++, subject_type: 0 };
      subjects.set(s.id, s);
      nextId = Math.max(nextId, s.id + 1);
      return render(s);
    },
    removeSubject: (id) => subjects.delete(id),
    setPurposes(list) {
      purposes = list;
    },
    addImage(path, body, contentType = 'image/png') {
      images.set(path, { body, contentType });
    },
    redirectImage(path, location, status = 302) {
      images.set(path, { body: Buffer.alloc(0), contentType: 'text/plain', location, status });
    },
    subjects: () => [...subjects.values()].map(render),
    visitors: () =>
      [...subjects.values()]
        .filter((x) => x.subject_type === 1)
        .sort((a, b) => a.id - b.id)
        .map(render),
  };
}
