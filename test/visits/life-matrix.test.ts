import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisitStatus } from '../../src/modules/applications/schemas.js';
import { device, expectFailure, signin, type Desk } from './helpers.js';
import { aRequest, anInvitation, cancel, detail, moveTo, ok200, reject, startLifeDesk, type LifeVisit } from './life-helpers.js';

/**
 * Every action in every status answers as the contract says: a visit is made in each of the
 * eight statuses (through the API, the kiosk and the expiry sweep), and each action is tried by
 * the visit's host on a visit of its own.
 */
let d: Desk;
type Action = 'reject' | 'cancel' | 'reschedule' | 'authorize';
const ACTIONS: Action[] = ['reject', 'cancel', 'reschedule', 'authorize'];
const STATUSES: VisitStatus[] = ['pending', 'approved', 'rejected', 'cancelled', 'expired', 'signed_in', 'checked_out', 'no_show'];

/** What each action answers in each status: 200, or 409 (a repeated reject / cancel answers the record). */
const EXPECTED: Record<Action, Partial<Record<VisitStatus, number>>> = {
  reject: { pending: 200, rejected: 200 },
  cancel: { pending: 200, approved: 200, cancelled: 200 },
  reschedule: { pending: 200, approved: 200 },
  // PUT /v1/auth/{id}: an authorized record is answered as it is; a request that ended is 409.
  authorize: { pending: 200, approved: 200, cancelled: 200, signed_in: 200, checked_out: 200, no_show: 200 },
};
/** The status after a 200 (null: as it was). */
const AFTER: Record<Action, VisitStatus | null> = { reject: 'rejected', cancel: 'cancelled', reschedule: null, authorize: null };
const after = (action: Action, status: VisitStatus) => (action === 'authorize' && status === 'pending' ? 'approved' : (AFTER[action] ?? status));

const visits = new Map<string, LifeVisit>();
const key = (status: VisitStatus, action: Action) => `${status}:${action}`;

async function make(status: VisitStatus): Promise<LifeVisit> {
  if (status === 'pending' || status === 'rejected') {
    const v = await aRequest(d);
    if (status === 'rejected') ok200(await reject(d, v.record.id, d.host));
    return v;
  }
  const v = await anInvitation(d, { hoursFromNow: 0 });
  if (status === 'cancelled') ok200(await cancel(d, v.record.id, d.host, { reason: '会议取消' }));
  if (status === 'signed_in' || status === 'checked_out') ok200(await signin(d, v.visitor.phone));
  if (status === 'checked_out') ok200(await d.h.request('POST', '/v1/visit/signout', { headers: device(d.kiosk), body: { id: v.record.id } }));
  return v;
}

function act(action: Action, id: number) {
  if (action === 'reject') return reject(d, id, d.host);
  if (action === 'cancel') return cancel(d, id, d.host);
  if (action === 'authorize') return d.h.request('PUT', `/v1/auth/${id}`, { token: d.host });
  return moveTo(d, id, d.host, d.clock.window(3, 1));
}

beforeAll(async () => {
  d = await startLifeDesk();
  // Expired and no-show first: their windows end when the clock moves on, and the sweep closes them.
  for (const action of ACTIONS) {
    visits.set(key('expired', action), await aRequest(d, { hoursFromNow: 0, lengthHours: 1 }));
    visits.set(key('no_show', action), await anInvitation(d, { hoursFromNow: 0, lengthHours: 1 }));
  }
  d.clock.advance(3600 + 5);
  try {
    for (const status of ['expired', 'no_show'] as const) {
      for (const action of ACTIONS) {
        const v = visits.get(key(status, action))!;
        await d.h.waitFor(async () => (await detail(d, v.record.id, d.host)).body.data?.status === status, { what: `visit ${v.record.id} ${status}` });
      }
    }
  } finally {
    d.clock.advance(-(3600 + 5));
  }
  for (const status of STATUSES) {
    if (status === 'expired' || status === 'no_show') continue;
    for (const action of ACTIONS) visits.set(key(status, action), await make(status));
  }
}, 120_000);
afterAll(async () => {
  await d?.close();
});

describe('a visit in each status', () => {
  it('reads with that status, to its host', async () => {
    for (const status of STATUSES) {
      const v = visits.get(key(status, 'reject'))!;
      const data = ok200(await detail(d, v.record.id, d.host));
      expect(data.status, `visit made ${status}`).toBe(status);
      expect(data.is_auth).toBe(['pending', 'rejected', 'expired'].includes(status) ? 0 : 1);
      expect(data.signin_time === null).toBe(!['signed_in', 'checked_out'].includes(status));
      expect(data.signout_time === null).toBe(status !== 'checked_out');
    }
  });

  for (const action of ACTIONS) {
    it(`${action}: ${STATUSES.map((s) => `${s} → ${EXPECTED[action][s] ?? 409}`).join(', ')}`, async () => {
      const answers: Record<string, number> = {};
      for (const status of STATUSES) {
        const v = visits.get(key(status, action))!;
        const id = v.record.id;
        const res = await act(action, id);
        answers[status] = res.status;
        const want = EXPECTED[action][status] ?? 409;
        if (want === 409) {
          expectFailure(res, 409, 'CONFLICT');
          expect(ok200(await detail(d, id, d.host)).status, 'a refused action changes nothing').toBe(status);
        } else {
          expect(res.body.data.status).toBe(after(action, status));
        }
      }
      expect(answers).toEqual(Object.fromEntries(STATUSES.map((s) => [s, EXPECTED[action][s] ?? 409])));
    });
  }
});
