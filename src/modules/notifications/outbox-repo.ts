import type { Database, Statement } from '../../db/client.js';

/** The columns a send needs, as the claim returns them. */
export interface ClaimedRow {
  id: number;
  /** The visit the message is about (every WeChat message links to its page). */
  applicationId: number;
  channel: string;
  phone: string;
  payload: unknown;
  /** Attempts so far, this claim's included. */
  attempts: number;
}

/** How a notification ended: the row's final status, with the provider's reference or the reason. */
export type Outcome = { status: 'sent'; ref: string } | { status: 'skipped'; reason: string } | { status: 'failed'; reason: string };

/** One row of RECORD's input. */
export interface OutcomeRow {
  id: number;
  status: Outcome['status'];
  ref: string | null;
  err: string | null;
}

/**
 * Takes up to $1 due rows (oldest first) and leases them for $2 seconds: each counts an attempt
 * and is not due again until the lease ends, so a row whose sender died is sent again then.
 * SKIP LOCKED hands each row to one claimer, on every replica.
 */
const CLAIM: Statement = {
  name: 'laifang_outbox_claim',
  text: `with due as (
    select id from notifications where status = 'pending' and due_at <= now()
    order by due_at, id limit $1 for update skip locked)
  update notifications n set attempts = n.attempts + 1, due_at = now() + make_interval(secs => $2)
  from due where n.id = due.id
  returning n.id, n.application_id, n.channel, n.phone, n.payload, n.attempts`,
};

/** The next attempt of a transiently failed row ($1), after $2 seconds, with the failure ($3). */
const RETRY_LATER: Statement = {
  name: 'laifang_outbox_retry',
  text: `update notifications set due_at = now() + make_interval(secs => $2), last_error = $3
  where id = $1 and status = 'pending'`,
};

/**
 * The outcomes of many rows ($1, JSON) in one statement, finished at $2. Only a pending row
 * changes: its status changes once, so a late or repeated outcome writes nothing.
 */
const RECORD: Statement = {
  name: 'laifang_notify_record',
  text: `update notifications n set status = v.status, provider_ref = v.ref, last_error = v.err, finished_at = $2
  from json_to_recordset($1::json) as v(id bigint, status text, ref text, err text)
  where n.id = v.id and n.status = 'pending'`,
};

export async function claimDue(database: Database, limit: number, leaseSeconds: number): Promise<ClaimedRow[]> {
  const rows = await database.query<Omit<ClaimedRow, 'applicationId'> & { id: string | number; application_id: string | number }>(CLAIM, [limit, leaseSeconds]);
  return rows.map(({ application_id, ...r }) => ({ ...r, id: Number(r.id), applicationId: Number(application_id) }));
}

export async function retryLater(database: Database, id: number, delaySeconds: number, reason: string): Promise<void> {
  await database.query(RETRY_LATER, [id, delaySeconds, reason]);
}

/** A row of RECORD's input: a sent row keeps the provider's reference (none when empty), the others their reason. */
export function outcomeRow(id: number, outcome: Outcome): OutcomeRow {
  return outcome.status === 'sent'
    ? { id, status: 'sent', ref: outcome.ref || null, err: null }
    : { id, status: outcome.status, ref: null, err: outcome.reason };
}

export async function recordOutcomes(database: Database, items: ReadonlyArray<{ id: number; outcome: Outcome }>, finishedAt: Date): Promise<void> {
  await database.query(RECORD, [JSON.stringify(items.map((i) => outcomeRow(i.id, i.outcome))), finishedAt]);
}

/**
 * Unsent rows per channel and when the oldest of them was written, for the metrics: read from
 * the pending rows' partial index, at most $1 of them (a bounded read however long the outbox).
 */
const PENDING_BY_CHANNEL: Statement = {
  name: 'laifang_outbox_pending',
  text: `select channel, count(*)::int as depth, (extract(epoch from min(created_at)) * 1000)::float8 as oldest_ms
  from (select channel, created_at from notifications where status = 'pending' order by due_at, id limit $1) p
  group by channel`,
};

/** The outbox as a scrape sees it: per channel, pending rows (up to `bound`) and the oldest one's age. */
export async function pendingByChannel(
  database: Database,
  nowMs: number,
  bound = 100_000,
): Promise<Array<{ channel: string; depth: number; oldestAgeSeconds: number }>> {
  const rows = await database.query<{ channel: string; depth: number; oldest_ms: number | string }>(PENDING_BY_CHANNEL, [bound]);
  return rows.map((r) => ({ channel: r.channel, depth: Number(r.depth), oldestAgeSeconds: Math.max(0, (nowMs - Number(r.oldest_ms)) / 1000) }));
}
