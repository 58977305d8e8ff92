import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { applications, staffCache, visitPasses } from '../../db/schema.js';
import { recordFilterWhere } from '../admin/records.js';

/** China time is UTC+8 all year: days and hours are whole-number arithmetic on Unix seconds. */
const CN = 28_800;

export interface StatsRange {
  from: number;
  to: number;
  group: 'day' | 'week';
  top: number;
  /** Unix seconds: a window before this is over (no-shows). */
  now: number;
}

const a = applications;

function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** Numbers arrive as strings from PostgreSQL's bigint and numeric. */
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * The statistics, each one SQL statement over the applications of the range — the listing's own
 * date filter (windows that overlap [from, to], src/modules/admin/records.ts), so that the
 * totals are the listing's counts. Days, weeks and hours are China time.
 */
export const statsRepo = {
  where: (db: Db, r: StatsRange): SQL => recordFilterWhere(db, { start_time: r.from, end_time: r.to })!,

  /** Visits per day or week (Monday), by the day the window starts (the range's first day for one that began before it). */
  async series(db: Db, r: StatsRange): Promise<Array<{ day: number; visits: number; signed_in: number }>> {
    const d = sql`((greatest(${a.startTime}, ${r.from}) + ${CN}) / 86400)`;
    const bucket = r.group === 'week' ? sql`(${d} - ((${d} + 3) % 7))` : d;
    const rows = await db.execute(sql`
      select ${bucket} as day, count(*) as visits, count(*) filter (where ${a.signinTime} is not null) as signed_in
      from ${a} where ${this.where(db, r)} group by 1 order by 1`);
    return rowsOf<Record<string, unknown>>(rows).map((x) => ({ day: num(x.day)!, visits: num(x.visits)!, signed_in: num(x.signed_in)! }));
  },

  async totals(db: Db, r: StatsRange): Promise<Record<string, number | null>> {
    const approved = sql`${a.kind} = 'request' and ${a.isAuth} = 1 and ${a.authTime} is not null`;
    const stayed = sql`${a.signinTime} is not null and ${a.signoutTime} is not null`;
    const rows = await db.execute(sql`
      select count(*) as visits,
        count(*) filter (where ${a.kind} = 'invitation') as invitations,
        count(*) filter (where ${a.kind} = 'request') as requests,
        count(*) filter (where ${approved}) as approved_requests,
        count(*) filter (where ${a.isAuth} = 0) as pending,
        avg(${a.authTime} - ${a.createdAt}) filter (where ${approved}) as approve_avg_s,
        percentile_cont(0.5) within group (order by ${a.authTime} - ${a.createdAt}) filter (where ${approved}) as approve_median_s,
        count(*) filter (where ${a.signinTime} is not null) as signed_in,
        count(*) filter (where ${a.isAuth} = 1 and ${a.signinTime} is null and ${a.endTime} < ${r.now}) as no_shows,
        count(*) filter (where ${stayed}) as stays,
        avg(${a.signoutTime} - ${a.signinTime}) filter (where ${stayed}) as stay_avg_s,
        percentile_cont(0.5) within group (order by ${a.signoutTime} - ${a.signinTime}) filter (where ${stayed}) as stay_median_s
      from ${a} where ${this.where(db, r)}`);
    const row = rowsOf<Record<string, unknown>>(rows)[0] ?? {};
    return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, num(v)]));
  },

  /** The `top` most frequent values of `key` (null: none given), most first. */
  async top(
    db: Db,
    r: StatsRange,
    key: 'purpose' | 'company' | 'host' | 'department',
  ): Promise<Array<{ key: string | null; label: string | null; visits: number }>> {
    const s = staffCache;
    const [k, label, from] = {
      purpose: [sql`nullif(${a.purposeName}, '')`, sql`null`, sql`${a}`],
      company: [sql`nullif(${a.comeFrom}, '')`, sql`null`, sql`${a}`],
      host: [a.intervieweePhone, sql`max(${a.interviewee})`, sql`${a}`],
      department: [sql`nullif(${s.department}, '')`, sql`null`, sql`${a} left join ${s} on ${s.phone} = ${a.intervieweePhone}`],
    }[key];
    const rows = await db.execute(sql`
      select ${k} as key, ${label} as label, count(*) as visits from ${from}
      where ${this.where(db, r)} group by 1 order by 3 desc, 1 limit ${r.top}`);
    return rowsOf<Record<string, unknown>>(rows).map((x) => ({
      key: (x.key as string | null) ?? null,
      label: (x.label as string | null) ?? null,
      visits: num(x.visits)!,
    }));
  },

  /** Sign-ins by weekday (0 = Monday) and hour, China time. */
  async peakHours(db: Db, r: StatsRange): Promise<Array<{ weekday: number; hour: number; signins: number }>> {
    const t = sql`(${a.signinTime} + ${CN})`;
    const rows = await db.execute(sql`
      select ((${t} / 86400 + 3) % 7) as weekday, ((${t} % 86400) / 3600) as hour, count(*) as signins
      from ${a} where ${this.where(db, r)} and ${a.signinTime} is not null group by 1, 2 order by 1, 2`);
    return rowsOf<Record<string, unknown>>(rows).map((x) => ({ weekday: num(x.weekday)!, hour: num(x.hour)!, signins: num(x.signins)! }));
  },

  /** Visits signed in and not yet out (the check-out sweep's partial index), and their people holding a live pass. */
  async onSiteNow(db: Db): Promise<{ visits: number; people: number }> {
    const p = visitPasses;
    const rows = await db.execute(sql`
      select count(distinct ${a.id}) as visits, count(${p.id}) filter (where ${p.revokedAt} is null) as people
      from ${a} left join ${p} on ${p.applicationId} = ${a.id}
      where ${a.signinTime} is not null and ${a.signoutTime} is null`);
    const row = rowsOf<Record<string, unknown>>(rows)[0] ?? {};
    return { visits: num(row.visits) ?? 0, people: num(row.people) ?? 0 };
  },
};
