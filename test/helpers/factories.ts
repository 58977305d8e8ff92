import { expect } from 'vitest';
import type { DeviceKind } from '../../src/modules/devices/service.js';
import type { Runtime } from '../../src/runtime.js';
import { newOpenid, newPhone } from './apply.js';
import { futureWindow, STAFF, type Harness, type Reply } from './harness.js';

/**
 * Factories for the people and records of a test (the test kit of the "One house" issue): each
 * builds a valid default through the public API and takes overrides that win over it, e.g.
 *
 *   const v = await aVisitor(h);                                  // bound, with a session
 *   const s = await aStaff(h, 'lina');                            // 李娜, bound, with a session
 *   const rec = await anApplication(h, { by: v, host: s });       // v asks to visit 李娜
 *   const inv = await anApplication(h, { by: s, retinues: 2 });   // 李娜 invites 王五 and two companions
 *   const { record } = await anAuthorizedVisit(h, { via: 'request' });
 *
 * They work on a Harness, or on any `Api` (e.g. `httpApi`, a running service over real HTTP).
 */

/** What the factories need of a service: requests, and a bound WeChat user's session. */
export interface Api {
  request<T = any>(
    method: string,
    url: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string>; payload?: string },
  ): Promise<Reply<T>>;
  /** Binds openid ↔ phone (as if bound elsewhere) and returns a session for the openid. */
  bound(weixinUserId: string, phone: string): Promise<string>;
  /** A session for an openid that may be unbound. */
  session(weixinUserId: string): Promise<string>;
}

/** A person as the contract names them: a name and a mainland mobile number. */
export interface Contact {
  name: string;
  phone: string;
}

/** A WeChat user bound to a phone, with a session. */
export interface Person extends Contact {
  openid: string;
  token: string;
}

/** A Koala employee, bound and with a session. */
export interface Staff extends Person {
  subjectId: number;
  department: string;
}

/** A WeChat user with a session and no phone bound. */
export interface Unbound {
  openid: string;
  token: string;
}

export type Window = { start_time: number; end_time: number };

/** A record as POST /v1/subject and the record lists answer it (contract §4). */
export interface ApplicationRecord {
  id: number;
  subject_type: number;
  name: string;
  phone: string;
  purpose: number;
  purpose_name: string;
  come_from: string;
  remark: string;
  proposer: string;
  interviewee: string;
  interviewee_phone: string;
  start_time: number;
  end_time: number;
  is_auth: 0 | 1;
  auth_time: number;
  created_at: number;
  retinues: Contact[];
  [key: string]: unknown;
}

const contact = (p: Contact): Contact => ({ name: p.name, phone: p.phone });

/** A visitor: a fresh 139… phone bound to a fresh WeChat, with a session. Overrides win. */
export async function aVisitor(api: Api, overrides: Partial<Contact & { openid: string }> = {}): Promise<Person> {
  const phone = overrides.phone ?? newPhone();
  const openid = overrides.openid ?? newOpenid('wx-visitor');
  return { name: overrides.name ?? '王五', phone, openid, token: await api.bound(openid, phone) };
}

/** A WeChat user who has a session but has bound no phone. */
export async function anUnboundUser(api: Api, openid = newOpenid('wx-unbound')): Promise<Unbound> {
  return { openid, token: await api.session(openid) };
}

export type StaffKey = keyof typeof STAFF;

/**
 * A staff member with a bound WeChat and a session: one of the Koala simulator's demo employees
 * (`who`, default 张伟) under a fresh openid. `overrides.openid` picks the WeChat user (a second
 * session of the same person, or a demo user such as 'demo-staff-zhangwei').
 * `aNewEmployee` adds an employee to Koala first.
 */
export async function aStaff(api: Api, who: StaffKey = 'zhangwei', overrides: { openid?: string } = {}): Promise<Staff> {
  const s = STAFF[who];
  const openid = overrides.openid ?? newOpenid(`wx-${who}`);
  return { name: s.name, phone: s.phone, subjectId: s.subjectId, department: s.department, openid, token: await api.bound(openid, s.phone) };
}

/**
 * A new Koala employee (added to the harness's Koala simulator; the service reads its directory
 * on demand, but remembers it for a while: add employees before the first application), bound
 * and with a session. Its phone is a fresh 136… number unless given.
 */
export async function aNewEmployee(h: Harness, overrides: Partial<Contact & { openid: string; department: string }> = {}): Promise<Staff> {
  const phone = overrides.phone ?? newPhone('136');
  const added = h.sims.koala.addEmployee({ name: overrides.name ?? `员工${phone.slice(-4)}`, phone, department: overrides.department ?? '' });
  const openid = overrides.openid ?? newOpenid('wx-staff');
  return { name: added.name, phone, subjectId: added.id, department: added.department ?? '', openid, token: await h.bound(openid, phone) };
}

export interface ApplicationOptions {
  /** Who posts it: a visitor (a visitor request) or a staff member (an invitation, when `host` is them). */
  by: { token: string; phone?: string; name?: string };
  /**
   * Whom the visit is to. Default: `by` when `by` is staff (an invitation, `subjectId` tells),
   * else 张伟 (a visitor request).
   */
  host?: Contact;
  /** Who visits. Default: `by` for a visitor request, else a new 王五 with a fresh phone. */
  visitor?: Contact;
  /** Default: `futureWindow()` (an hour from now, two hours long). Pass `clock.window()` with a TestClock. */
  window?: Window;
  /** Companions, or a number of new ones (随行1, 随行2, … with fresh phones). */
  retinues?: Contact[] | number;
  /** Request headers, e.g. an idempotency-key. */
  headers?: Record<string, string>;
  /** Any field of the body (purpose, come_from, remark, even name or phone): wins over the defaults. */
  body?: Record<string, unknown>;
}

const isStaff = (p: object): p is Staff => typeof (p as Partial<Staff>).subjectId === 'number';

/** The body of POST /v1/subject that `anApplication` would post (for tests that check refusals). */
export function applicationBody(o: Omit<ApplicationOptions, 'headers' | 'by'> & { by?: Partial<ApplicationOptions['by']> }): Record<string, any> {
  const by = o.by ?? {};
  const host = o.host ?? (isStaff(by) ? by : STAFF.zhangwei);
  const invitation = host.phone === by.phone;
  // A visitor request is by the visitor themself; an invitation is for someone new.
  const visitor = o.visitor ?? (invitation || !by.phone ? { name: '王五', phone: newPhone() } : { name: by.name ?? '王五', phone: by.phone });
  const retinues =
    typeof o.retinues === 'number'
      ? Array.from({ length: o.retinues }, (_, i) => ({ name: `随行${i + 1}`, phone: newPhone() }))
      : (o.retinues ?? []).map(contact);
  return {
    name: visitor.name,
    phone: visitor.phone,
    interviewee: host.name,
    interviewee_phone: host.phone,
    ...(o.window ?? futureWindow()),
    retinues,
    ...o.body,
  };
}

/** Posts POST /v1/subject and answers the reply as it is (refusals included). */
export function postApplication(api: Api, o: ApplicationOptions): Promise<Reply> {
  return api.request('POST', '/v1/subject', { token: o.by.token, headers: o.headers, body: applicationBody(o) });
}

/**
 * An application through POST /v1/subject; fails the test unless it is accepted, and answers
 * the record. A visitor request by default (`by` a visitor, to 张伟); an invitation when `by` is
 * staff and `host` is left out (or is `by`).
 */
export async function anApplication(api: Api, o: ApplicationOptions): Promise<ApplicationRecord> {
  const res = await postApplication(api, o);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as ApplicationRecord;
}

export interface AuthorizedVisit {
  record: ApplicationRecord;
  host: Staff;
  /** The visitor; a Person (with a session) when the visit was a visitor request, or when bound. */
  visitor: Contact & Partial<Person>;
}

/**
 * An authorized visit: a staff invitation (default, authorized at once) or, with
 * `via: 'request'`, a visitor request that its host then authorized (PUT /v1/auth/{id}).
 * `host` defaults to 张伟 with a new session; the visitor to a new bound visitor.
 */
export async function anAuthorizedVisit(
  api: Api,
  o: Omit<ApplicationOptions, 'by' | 'host'> & { via?: 'invitation' | 'request'; host?: Staff; visitor?: Contact & Partial<Person> } = {},
): Promise<AuthorizedVisit> {
  const host = o.host ?? (await aStaff(api));
  if ((o.via ?? 'invitation') === 'invitation') {
    const visitor = o.visitor ?? { name: '王五', phone: newPhone() };
    const record = await anApplication(api, { ...o, by: host, host, visitor });
    expect(record.is_auth).toBe(1);
    return { record, host, visitor };
  }
  const visitor = o.visitor?.token ? o.visitor : await aVisitor(api, o.visitor);
  const pending = await anApplication(api, { ...o, by: { token: visitor.token!, phone: visitor.phone }, host, visitor });
  expect(pending.is_auth).toBe(0);
  const res = await api.request('PUT', `/v1/auth/${pending.id}`, { token: host.token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { record: res.body.data as ApplicationRecord, host, visitor };
}

/** A registered device (kiosk or turnstile) and its token, through the devices service. */
export async function aDevice(
  h: { runtime: Runtime },
  kind: DeviceKind,
  name = kind === 'kiosk' ? '前台一号' : '东门闸机',
): Promise<{ id: number; token: string }> {
  const d = await h.runtime.devices.register({ name, kind });
  return { id: d.id, token: d.token };
}

/**
 * A running service in simulated mode over real HTTP (the e2e tests): requests with fetch, and
 * sessions through POST /v1/session/dev after binding the phone in the in-process WeChat
 * cloud simulator.
 */
export function httpApi(base: string, runtime: Runtime): Api {
  const api: Api = {
    async request(method, url, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      const payload = o.payload ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
      if (payload !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      const res = await fetch(`${base}${url}`, { method, headers, body: payload });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, body: body as never, headers: Object.fromEntries(res.headers) };
    },
    async session(weixinUserId) {
      const res = await api.request('POST', '/v1/session/dev', { body: { weixinUserId } });
      if (res.status !== 200) throw new Error(`session failed: ${JSON.stringify(res.body)}`);
      return res.body.data.token as string;
    },
    async bound(weixinUserId, phone) {
      if (!runtime.simulators) throw new Error('httpApi.bound needs a service in simulated mode');
      runtime.simulators.cloud.bind(weixinUserId, phone);
      return api.session(weixinUserId);
    },
  };
  return api;
}
