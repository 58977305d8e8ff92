import { expect } from 'vitest';
import { newPhone } from '../helpers/apply.js';
import { anApplication, aVisitor, type ApplicationRecord, type Person } from '../helpers/factories.js';
import type { Reply } from '../helpers/harness.js';
import { signin, startDesk, type Desk } from './helpers.js';

/** The desk of the life tests: SMS caps out of the way (one host gets many messages here). */
export function startLifeDesk(): Promise<Desk> {
  return startDesk({
    env: { APPLY_PER_HOUR: '1000', SMS_PER_PHONE_PER_HOUR: '100000', SMS_PER_PHONE_PER_DAY: '1000000', SMS_GLOBAL_PER_HOUR: '10000000' },
    sms: { limits: null },
  });
}

/** A visit and its people, each bound to a WeChat with a session. */
export interface LifeVisit {
  record: ApplicationRecord;
  /** The visitor (the proposer of a request). */
  visitor: Person;
  companion: Person;
}

/** A companion or a visitor: bound, with a session, fresh phone. */
export const aPerson = (d: Desk, name: string): Promise<Person> => aVisitor(d.h, { name, phone: newPhone() });

/** A visitor request to 张伟 with one companion (`pending`), on the desk's clock. */
export async function aRequest(d: Desk, o: { hoursFromNow?: number; lengthHours?: number } = {}): Promise<LifeVisit> {
  const visitor = await aPerson(d, '王五');
  const companion = await aPerson(d, '随行甲');
  const record = await anApplication(d.h, {
    by: visitor,
    host: d.staff,
    visitor,
    retinues: [{ name: companion.name, phone: companion.phone }],
    window: d.clock.window(o.hoursFromNow ?? 0.25, o.lengthHours ?? 2),
  });
  return { record, visitor, companion };
}

/** 张伟 invites a visitor with one companion (`approved`), on the desk's clock. */
export async function anInvitation(d: Desk, o: { hoursFromNow?: number; lengthHours?: number } = {}): Promise<LifeVisit> {
  const visitor = await aPerson(d, '赵六');
  const companion = await aPerson(d, '随行乙');
  const record = await anApplication(d.h, {
    by: d.staff,
    visitor: { name: visitor.name, phone: visitor.phone },
    retinues: [{ name: companion.name, phone: companion.phone }],
    window: d.clock.window(o.hoursFromNow ?? 0.25, o.lengthHours ?? 2),
  });
  return { record, visitor, companion };
}

export const detail = (d: Desk, id: number, token: string) => d.h.request('GET', `/v1/visit/${id}`, { token });
export const reject = (d: Desk, id: number, token: string, reason: unknown = '当天不在公司') =>
  d.h.request('POST', `/v1/visit/${id}/reject`, { token, body: { reason } });
export const cancel = (d: Desk, id: number, token: string, body: Record<string, unknown> = {}) =>
  d.h.request('POST', `/v1/visit/${id}/cancel`, { token, body });
export const moveTo = (d: Desk, id: number, token: string, w: { start_time: number; end_time: number }) =>
  d.h.request('PUT', `/v1/visit/${id}/time`, { token, body: w });

export function ok200(res: Reply): any {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data;
}

/** Signs the visitor in at the kiosk (the visit must start within the lead time). */
export async function signedIn(d: Desk, v: LifeVisit): Promise<void> {
  ok200(await signin(d, v.visitor.phone));
}
