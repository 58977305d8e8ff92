/**
 * The synthetic data set, as SQL: N applications and their application_people rows, made by
 * INSERT … SELECT FROM generate_series inside the database (no data crosses the wire).
 *
 * Every value of application i is a pure function of (i, seed), through hashint8extended, so
 * the applications statement and the people statement agree without a temporary table, and
 * the same size and seed always give the same rows.
 *
 * Shape (see bench/RESULTS.md):
 *   - visitors and companions are drawn uniformly from V = N/2 phones (150…): ~3 records each;
 *   - hosts are H = N/200 phones (137…, ~1% of all phones), picked with a skew
 *     (index = floor(H·u²)): the busiest host is in ~1/√H of all applications — 1.4k at 10k,
 *     14k at 1M, 45k at 10M — and a few dozen hosts have thousands;
 *   - 40% invitations (proposer = host, authorized at once), 60% requests (proposer = visitor,
 *     70% authorized within a day);
 *   - a third of applications have 1–3 companions, all phones of one application distinct;
 *   - created_at spread evenly over the last 365 days in id order (ids grow with time, as they do).
 */
export interface DatasetShape {
  applications: number;
  visitors: number;
  hosts: number;
  seed: number;
  /** Unix seconds of the first application. */
  t0: number;
  spanSeconds: number;
}

export const VISITOR_BASE = 15_000_000_000;
export const HOST_BASE = 13_700_000_000;

export function datasetShape(applications: number, seed = 42, now = Date.now()): DatasetShape {
  const span = 365 * 86_400;
  return {
    applications,
    visitors: Math.max(100, Math.floor(applications / 2)),
    hosts: Math.max(10, Math.floor(applications / 200)),
    seed,
    t0: Math.floor(now / 1000) - span,
    spanSeconds: span,
  };
}

export function hostPhone(index: number): string {
  return String(HOST_BASE + index);
}

/** The members of staff the apply runs invite from (bench/run.ts): phones no host of the data set has. */
export const APPLIER_BASE = 13_600_000_000;

export function applierPhone(index: number): string {
  return String(APPLIER_BASE + index);
}

export function hostName(index: number): string {
  return `员工${index}`;
}

/** Session-local helper: a uniform [0, 1) float from (i, k), deterministic per seed. */
function helperSql(seed: number): string {
  return `create or replace function pg_temp.u(i bigint, k int) returns float8 language sql immutable parallel safe as
  $$ select ((hashint8extended(i, ${seed * 1000}::bigint + k) >> 11) & 9007199254740991)::float8 / 9007199254740992.0 $$;`;
}

/** One row per application with every derived value (a CTE both statements read). */
function derivedSql(s: DatasetShape): string {
  const { applications: n, visitors: v, hosts: h } = s;
  return `
  select i,
         ${s.t0}::bigint + (i * ${s.spanSeconds}::bigint) / ${n} as created_at,
         pg_temp.u(i, 1) < 0.4 as invitation,
         floor(${h} * pg_temp.u(i, 2) ^ 2)::bigint as h,
         floor(${v} * pg_temp.u(i, 3))::bigint as v,
         case when pg_temp.u(i, 4) < 1.0 / 3 then 1 + floor(3 * pg_temp.u(i, 5))::int else 0 end as nc,
         floor((${v} - 5) * pg_temp.u(i, 6))::bigint as cbase,
         pg_temp.u(i, 7) < 0.7 as request_authorized,
         floor(86400 * pg_temp.u(i, 8))::bigint as auth_delay,
         floor(7 * 86400 * pg_temp.u(i, 9))::bigint as start_delay,
         3600 * (1 + floor(4 * pg_temp.u(i, 10))::bigint) as length,
         floor(6 * pg_temp.u(i, 11))::int as purpose,
         pg_temp.u(i, 12) < 0.5 as has_company
  from generate_series(1, ${n}::bigint) as i`;
}

const PURPOSES = `(array['其它','面试','商务','亲友','快递送货','参观'])`;

export function applicationsInsertSql(s: DatasetShape): string {
  return `
with g as (${derivedSql(s)}),
     x as (select g.*, (${HOST_BASE}::bigint + g.h)::text as host_phone, (${VISITOR_BASE}::bigint + g.v)::text as visitor_phone from g)
insert into applications (id, subject_type, kind, name, phone, purpose, purpose_name, come_from, remark, proposer, proposer_weixin_user_id,
                          interviewee, interviewee_phone, interviewee_subject_id, start_time, end_time, is_auth, auth_time, created_at)
select i, 1,
       case when invitation then 'invitation' else 'request' end,
       '访客' || v, visitor_phone, purpose, ${PURPOSES}[purpose + 1],
       case when has_company then '来访公司' || (v % 997) else '' end, '',
       case when invitation then host_phone else visitor_phone end,
       'wx-' || case when invitation then host_phone else visitor_phone end,
       '员工' || h, host_phone, (100000 + h)::int,
       created_at + start_delay, created_at + start_delay + length,
       case when invitation or request_authorized then 1 else 0 end,
       case when invitation then created_at when request_authorized then created_at + auth_delay else null end,
       created_at
from x`;
}

export function peopleInsertSql(s: DatasetShape): string {
  return `
with g as (${derivedSql(s)})
insert into application_people (application_id, role, position, name, phone, is_proposer, created_at)
select g.i,
       case when pos = 0 then 'host' when pos = 1 then 'visitor' else 'companion' end,
       pos,
       case when pos = 0 then '员工' || g.h when pos = 1 then '访客' || g.v else '同行' || ((g.v + 1 + (pos - 2) + g.cbase) % ${s.visitors}) end,
       case when pos = 0 then (${HOST_BASE}::bigint + g.h)::text
            when pos = 1 then (${VISITOR_BASE}::bigint + g.v)::text
            else (${VISITOR_BASE}::bigint + (g.v + 1 + (pos - 2) + g.cbase) % ${s.visitors})::text end,
       case when pos = 0 then g.invitation when pos = 1 then not g.invitation else false end,
       g.created_at
from g cross join lateral generate_series(0, 1 + g.nc) as pos`;
}

export function helperFunctionSql(s: DatasetShape): string {
  return helperSql(s.seed);
}
