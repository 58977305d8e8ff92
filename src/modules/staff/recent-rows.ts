import type { StaffRow } from './repo.js';

export interface RecentRows {
  /** The row of `phone` when it was read from Koala within the window (and not in the future). */
  get(phone: string): StaffRow | null;
  /** Whether a row read from Koala at `at` is within the window. */
  isRecent(at: Date): boolean;
  keep(row: StaffRow): void;
  drop(phone: string): void;
}

/**
 * The staff rows this process read or wrote lately, by phone, so that an invitation from a
 * member of staff confirmed by Koala within `windowMs` is answered without a database round
 * trip. Rows past the window are dropped as others are kept (at most `pruneEveryMs` later), and
 * at most `max` are held, so nothing lingers in memory.
 */
export function createRecentRows(opts: { now: () => number; windowMs: number; pruneEveryMs: number; max: number }): RecentRows {
  const rows = new Map<string, StaffRow>();
  let prunedAt = 0;
  const isRecent = (at: Date) => opts.now() - at.getTime() < opts.windowMs;
  return {
    isRecent,
    get(phone) {
      const kept = rows.get(phone);
      return kept && isRecent(kept.refreshedAt) && opts.now() >= kept.refreshedAt.getTime() ? kept : null;
    },
    keep(row) {
      const now = opts.now();
      if (rows.size >= opts.max || now - prunedAt >= opts.pruneEveryMs || now < prunedAt) {
        prunedAt = now;
        for (const [phone, r] of rows) if (!isRecent(r.refreshedAt)) rows.delete(phone);
        if (rows.size >= opts.max) rows.clear();
      }
      rows.set(row.phone, row);
    },
    drop(phone) {
      rows.delete(phone);
    },
  };
}
