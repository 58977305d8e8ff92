import { expect } from 'vitest';
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
