import { describe, expect, it } from 'vitest';
import { createRecentRows } from '../../src/modules/staff/recent-rows.js';
import type { StaffRow } from '../../src/modules/staff/repo.js';

const row = (phone: string, refreshedAtMs: number): StaffRow => ({
  phone,
  subjectId: 1,
  name: '张伟',
  department: '',
  koalaAvatarUrl: '',
  refreshedAt: new Date(refreshedAtMs),
});

function setup(max = 100) {
  let now = 1_000_000;
  const rows = createRecentRows({ now: () => now, windowMs: 30_000, pruneEveryMs: 30_000, max });
  return { rows, at: () => now, advance: (ms: number) => (now += ms) };
}

describe('createRecentRows', () => {
  it('answers a row read within the window, not one past it nor one dated in the future', () => {
    const { rows, at, advance } = setup();
    rows.keep(row('13800000001', at()));
    rows.keep(row('13800000002', at() + 5_000));
    expect(rows.get('13800000001')?.phone).toBe('13800000001');
    expect(rows.get('13800000002')).toBeNull();
    expect(rows.get('13800000003')).toBeNull();
    advance(30_000);
    expect(rows.get('13800000001')).toBeNull();
    expect(rows.isRecent(new Date(at() - 29_999))).toBe(true);
    expect(rows.isRecent(new Date(at() - 30_000))).toBe(false);
  });

  it('drops a row on request', () => {
    const { rows, at } = setup();
    rows.keep(row('13800000001', at()));
    rows.drop('13800000001');
    expect(rows.get('13800000001')).toBeNull();
  });

  it('prunes stale rows once a window, and holds at most `max` rows (all dropped when every row is recent)', () => {
    const { rows, at, advance } = setup(3);
    rows.keep(row('13800000001', at()));
    advance(31_000);
    // The window has passed since the last pruning: the stale row goes as the next one is kept.
    rows.keep(row('13800000002', at()));
    rows.keep(row('13800000003', at()));
    rows.keep(row('13800000004', at()));
    expect(rows.get('13800000001')).toBeNull();
    expect(['13800000002', '13800000003', '13800000004'].map((p) => rows.get(p)?.phone)).toEqual(['13800000002', '13800000003', '13800000004']);
    // Full of recent rows: all are dropped, the new one is kept.
    rows.keep(row('13800000005', at()));
    expect(rows.get('13800000002')).toBeNull();
    expect(rows.get('13800000005')?.phone).toBe('13800000005');
  });
});
