import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { statsRepo, type StatsRange } from './repo.js';

export interface StatsQuery {
  from: number;
  to: number;
  group?: 'day' | 'week';
  top?: number;
}

type Top = Awaited<ReturnType<typeof statsRepo.top>>;

/** The most frequent values, and the visits of all the others (so the parts add up to the total). */
const ranked = (top: Top, total: number) => ({ top, rest: total - top.reduce((n, t) => n + t.visits, 0) });

/** `day` (days since 1970-01-01, China time) → `2026-12-05`. */
const dateOf = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);

const MAX_RANGE_DAYS = 400;

export type Statistics = Awaited<ReturnType<ReturnType<typeof createStats>['compute']>>;

/** The statistics page's numbers: each computed by PostgreSQL over the range's applications. */
export function createStats(deps: { db: Db; now: () => number }) {
  const { db } = deps;
  return {
    async compute(q: StatsQuery) {
      if (q.from > q.to) throw new AppError('VALIDATION_FAILED', '字段 to 不能早于 from');
      if (q.to - q.from > MAX_RANGE_DAYS * 86_400) throw new AppError('VALIDATION_FAILED', `统计范围最长 ${MAX_RANGE_DAYS} 天`);
      const r: StatsRange = { from: q.from, to: q.to, group: q.group ?? 'day', top: q.top ?? 10, now: Math.floor(deps.now() / 1000) };
      const [totals, series, purpose, company, host, department, peak, onSite] = await Promise.all([
        statsRepo.totals(db, r),
        statsRepo.series(db, r),
        statsRepo.top(db, r, 'purpose'),
        statsRepo.top(db, r, 'company'),
        statsRepo.top(db, r, 'host'),
        statsRepo.top(db, r, 'department'),
        statsRepo.peakHours(db, r),
        statsRepo.onSiteNow(db),
      ]);
      const visits = totals.visits ?? 0;
      const requests = totals.requests ?? 0;
      return {
        range: { from: r.from, to: r.to, group: r.group },
        totals: {
          visits,
          invitations: totals.invitations ?? 0,
          requests,
          approved_requests: totals.approved_requests ?? 0,
          pending: totals.pending ?? 0,
          approval_rate: requests > 0 ? (totals.approved_requests ?? 0) / requests : null,
          approve_avg_s: totals.approve_avg_s ?? null,
          approve_median_s: totals.approve_median_s ?? null,
          signed_in: totals.signed_in ?? 0,
          no_shows: totals.no_shows ?? 0,
          stays: totals.stays ?? 0,
          stay_avg_s: totals.stay_avg_s ?? null,
          stay_median_s: totals.stay_median_s ?? null,
        },
        series: series.map((s) => ({ date: dateOf(s.day), visits: s.visits, signed_in: s.signed_in })),
        by_purpose: ranked(purpose, visits),
        by_company: ranked(company, visits),
        by_host: ranked(host, visits),
        by_department: ranked(department, visits),
        peak_hours: peak,
        on_site_now: onSite,
      };
    },
  };
}

export type StatsService = ReturnType<typeof createStats>;
