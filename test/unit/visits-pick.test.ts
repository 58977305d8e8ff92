import { describe, expect, it } from 'vitest';
import { pickVisit, signinRange, type Candidate } from '../../src/modules/visits/pick.js';

const LEAD = 30; // minutes
const NOW = 1_750_000_000; // 2025-06-15 23:06:40 in Shanghai

type Row = Candidate & { id: number };
const row = (id: number, o: Partial<Candidate> = {}): Row => ({ id, isAuth: 1, startTime: NOW - 600, endTime: NOW + 3600, signoutTime: null, ...o });

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a refusal');
}

describe('signinRange', () => {
  it('is today in Shanghai, from its midnight', () => {
    const noon = Date.UTC(2025, 5, 15, 4, 0, 0) / 1000; // 12:00 in Shanghai
    const midnight = Date.UTC(2025, 5, 14, 16, 0, 0) / 1000; // 00:00 in Shanghai
    expect(signinRange(noon, LEAD * 60)).toEqual({ from: midnight, to: midnight + 86_400 });
  });

  it('reaches past midnight by the lead time', () => {
    const late = Date.UTC(2025, 5, 15, 15, 50, 0) / 1000; // 23:50 in Shanghai
    const midnight = Date.UTC(2025, 5, 14, 16, 0, 0) / 1000;
    expect(signinRange(late, LEAD * 60)).toEqual({ from: midnight, to: late + LEAD * 60 + 1 });
  });
});

describe('pickVisit', () => {
  it('takes the first authorized visit that is open now or starts within the lead time', () => {
    const ended = row(1, { endTime: NOW - 1 });
    const soon = row(2, { startTime: NOW + LEAD * 60 });
    const later = row(3, { startTime: NOW + LEAD * 60 + 1 });
    expect(pickVisit([ended, soon, later], NOW, LEAD).id).toBe(2);
    expect(pickVisit([row(4), soon], NOW, LEAD).id).toBe(4);
  });

  it('passes over visits checked out, not authorized or too early when another one is open', () => {
    const out = row(1, { signoutTime: NOW - 60 });
    const waiting = row(2, { isAuth: 0 });
    expect(pickVisit([out, waiting, row(3)], NOW, LEAD).id).toBe(3);
  });

  it('nothing today: 404', () => {
    expect(failure(() => pickVisit([], NOW, LEAD))).toMatchObject({ code: 'NOT_FOUND', message: '今天没有该手机号的访问预约' });
  });

  it('says why there is nothing to sign in to, the most helpful reason first', () => {
    const waiting = row(1, { isAuth: 0 });
    const early = row(2, { startTime: NOW + 3600, endTime: NOW + 7200 });
    const out = row(3, { signoutTime: NOW - 60 });
    const over = row(4, { startTime: NOW - 7200, endTime: NOW });
    expect(failure(() => pickVisit([early, waiting, out, over], NOW, LEAD))).toMatchObject({ code: 'CONFLICT', message: '访问申请尚未授权' });
    expect(failure(() => pickVisit([early, out, over], NOW, LEAD))).toMatchObject({
      code: 'CONFLICT',
      message: `访问尚未开始，请在开始前 ${LEAD} 分钟内签到`,
    });
    expect(failure(() => pickVisit([out, over], NOW, LEAD))).toMatchObject({ code: 'CONFLICT', message: '本次访问已签退' });
    expect(failure(() => pickVisit([over], NOW, LEAD))).toMatchObject({ code: 'CONFLICT', message: '访问时间已结束' });
  });

  it('a checked-out visit whose window is over counts as over, not as checked out', () => {
    const outAndOver = row(1, { signoutTime: NOW - 3600, endTime: NOW - 60 });
    expect(failure(() => pickVisit([outAndOver], NOW, LEAD))).toMatchObject({ code: 'CONFLICT', message: '访问时间已结束' });
  });
});
