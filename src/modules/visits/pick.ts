import { AppError } from '../../errors.js';

const DAY = 86_400;
/** China Standard Time, UTC+8 all year: "today" at the front desk. */
const SHANGHAI = 8 * 3600;

/** What the choice of a sign-in's application reads of each candidate. */
export interface Candidate {
  isAuth: number;
  startTime: number;
  endTime: number;
  signoutTime: number | null;
}

/**
 * The windows a sign-in at `now` looks at: today in China, reaching past midnight when the lead
 * time does (a visit at 00:10 may be signed in to at 23:55).
 */
export function signinRange(now: number, leadSeconds: number): { from: number; to: number } {
  const dayStart = Math.floor((now + SHANGHAI) / DAY) * DAY - SHANGHAI;
  return { from: dayStart, to: Math.max(dayStart + DAY, now + leadSeconds + 1) };
}

/**
 * The application a phone signs in to at `now`, among today's candidates (oldest window first):
 * the first authorized one that has not ended, is not checked out and starts within the lead
 * time. Otherwise the reason there is none, most helpful first: nothing today (404), waiting for
 * authorization, too early, already checked out, over (409).
 */
export function pickVisit<T extends Candidate>(found: readonly T[], now: number, leadMinutes: number): T {
  if (found.length === 0) throw new AppError('NOT_FOUND', '今天没有该手机号的访问预约');
  const lead = leadMinutes * 60;
  const live = found.filter((a) => a.endTime > now && a.signoutTime === null);
  const open = live.find((a) => a.isAuth === 1 && a.startTime <= now + lead);
  if (open) return open;
  if (live.some((a) => a.isAuth !== 1)) throw new AppError('CONFLICT', '访问申请尚未授权');
  if (live.length > 0) throw new AppError('CONFLICT', `访问尚未开始，请在开始前 ${leadMinutes} 分钟内签到`);
  if (found.some((a) => a.signoutTime !== null && a.endTime > now)) throw new AppError('CONFLICT', '本次访问已签退');
  throw new AppError('CONFLICT', '访问时间已结束');
}
