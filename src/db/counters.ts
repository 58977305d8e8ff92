import type { Database, Statement } from './client.js';

/**
 * Adds one to each (bucket, window) counter in `rate_counters` and answers the new counts: one
 * named statement, auto-committed.
 *
 * Its commit does not wait for the WAL to reach the disk (`synchronous_commit` off for this
 * transaction only, set by the statement itself). A counter row can be shared by every request
 * (the global SMS cap's row is), and its lock is held until the commit: with a synchronous
 * commit each holder waited a disk flush (~1 ms here, 1.3 ms per SMS under load, issue 5), which
 * serialised every SMS of every replica behind the disk. A crash of PostgreSQL may lose the last
 * fraction of a second of increments: a cap may let that many more through. Never anything else:
 * nothing but counters is written this way.
 */
const INCREMENT: Statement = {
  name: 'laifang_counters_increment',
  text: `with async_commit as (select set_config('synchronous_commit', 'off', true))
insert into rate_counters (bucket, window_start, hits)
select v.bucket, v.window_start, 1 from unnest($1::text[], $2::bigint[]) as v(bucket, window_start), async_commit
on conflict (bucket, window_start) do update set hits = rate_counters.hits + 1
returning bucket, hits`,
};

export async function incrementCounters(database: Database, counters: ReadonlyArray<{ bucket: string; windowStart: number }>): Promise<Map<string, number>> {
  const rows = await database.query<{ bucket: string; hits: number }>(INCREMENT, [counters.map((c) => c.bucket.slice(0, 160)), counters.map((c) => c.windowStart)]);
  return new Map(rows.map((r) => [r.bucket, Number(r.hits)]));
}
