import { asc, eq } from 'drizzle-orm';
import { expect } from 'vitest';
import { visitPasses } from '../../src/db/schema.js';
import type { FinishedAttempt } from '../../src/modules/visits/koala-sync.js';
import { newPhone, TestClock } from '../helpers/apply.js';
import { aDevice, anApplication, aStaff, type Staff } from '../helpers/factories.js';
import { startHarness, type Harness, type HarnessOptions } from '../helpers/harness.js';

/** A harness for the front desk: a movable clock, a fast check-out sweep, a kiosk and a turnstile. */
export interface Desk {
  h: Harness;
  clock: TestClock;
  kiosk: string;
  turnstile: string;
  /** A staff member's (张伟's) phone session. */
  host: string;
  /** 张伟, bound, whose session `host` is. */
  staff: Staff;
  close(): Promise<void>;
}

export async function startDesk(opts: HarnessOptions = {}): Promise<Desk> {
  const clock = new TestClock();
  const h = await startHarness({ ...opts, now: clock.now, env: { VISIT_SWEEP_S: '1', ...opts.env } });
  const kiosk = (await aDevice(h, 'kiosk', '前台一号')).token;
  const turnstile = (await aDevice(h, 'turnstile', '东门闸机')).token;
  const staff = await aStaff(h, 'zhangwei', { openid: 'wx-host-zhangwei' });
  return { h, clock, kiosk, turnstile, host: staff.token, staff, close: () => h.close() };
}

export interface Invitation {
  id: number;
  visitor: { name: string; phone: string };
  companions: Array<{ name: string; phone: string }>;
  start_time: number;
  end_time: number;
}

/** 张伟 invites a visitor with `companions` companions; every person's phone is bound to a WeChat. */
export async function invite(d: Desk, o: { companions?: number; hoursFromNow?: number; lengthHours?: number } = {}): Promise<Invitation> {
  const window = d.clock.window(o.hoursFromNow ?? 0.25, o.lengthHours ?? 2);
  const visitor = { name: '王五', phone: newPhone() };
  const companions = Array.from({ length: o.companions ?? 2 }, (_, i) => ({ name: `随行${i + 1}`, phone: newPhone() }));
  for (const p of [visitor, ...companions]) d.h.sims.cloud.bind(`wx-${p.phone}`, p.phone);
  const record = await anApplication(d.h, { by: d.staff, visitor, window, retinues: companions });
  return { id: record.id, visitor, companions, ...window };
}

export const device = (token: string) => ({ authorization: `Device ${token}` });

export function signin(d: Desk, phone: string, token = d.kiosk) {
  return d.h.request('POST', '/v1/visit/signin', { headers: device(token), body: { phone } });
}

export function scan(d: Desk, qrcode: string, token = d.turnstile) {
  return d.h.request('POST', '/v1/visit/qrcode', { headers: device(token), body: { qrcode } });
}

export function expectFailure(res: { status: number; body: any }, status: number, error: string, message?: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toMatchObject({ code: status, error });
  expect(typeof res.body.err_msg).toBe('string');
  if (message !== undefined) expect(res.body.err_msg).toBe(message);
}

/** Koala's visitors for one visit (by the remark the service writes). */
export function koalaVisitorsOf(d: Desk, applicationId: number) {
  return d.h.sims.koala.visitors().filter((v) => v.remark === `来访 #${applicationId}`);
}

/** The pass ids of a visit, the visitor's first. */
export async function passIdsOf(d: Desk, applicationId: number): Promise<number[]> {
  const rows = await d.h.database.db
    .select({ id: visitPasses.id })
    .from(visitPasses)
    .where(eq(visitPasses.applicationId, applicationId))
    .orderBy(asc(visitPasses.position));
  return rows.map((r) => r.id);
}

/**
 * Waits for the Koala sync worker to finish one job attempt `op` with `outcome` for each of
 * `passIds` (attempts finishing otherwise are passed over). Call it before the attempts can
 * finish: it sees the attempts that finish after it is called.
 */
export function koalaAttempts(d: Desk, passIds: number[], op: 'create' | 'delete', outcome: FinishedAttempt['outcome'], timeoutMs = 20_000): Promise<void> {
  const what = `a Koala ${op} attempt ending '${outcome}' for passes ${passIds.join(', ')}`;
  const each = passIds.map((passId) => d.h.runtime.koalaSync.attemptFinished((a) => a.job.passId === passId && a.job.op === op && a.outcome === outcome));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([Promise.all(each).then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}
