import type { Database, Statement } from '../../../db/client.js';
import { outboxJson, type OutboxRow } from '../../notifications/outbox.js';
import type { KeyRow } from '../idempotency.js';
import type { BatchAuditRow, NewApplication, NewPerson } from '../repo.js';

/** One application of a batch: the row, its people, its planned messages, and what else it writes. */
export interface NewApplicationBatchItem {
  row: NewApplication;
  people: NewPerson[];
  outbox: ReadonlyArray<OutboxRow>;
  audit: BatchAuditRow | null;
  /** The Idempotency-Key's row; its stored `response` gets the new id. */
  idempotency: KeyRow | null;
}

/**
 * What became of one application of a batch: its new id, or, when its caller's hourly limit
 * left no room for it, the caller's window as the statement left it (`limited`: the Unix
 * seconds of its newest applications, ascending).
 */
export type BatchResult = { id: number } | { limited: number[] };

/**
 * Applications, in one statement for a batch of them ($1: one JSON object per application, in
 * arrival order, several of one caller allowed; $2 the hourly limit; $3 now, for the outbox rows
 * and the idempotency keys).
 *
 * `win`: each caller's window (apply_windows.applied_at) keeps the Unix seconds of its newest
 * applications, at most $2, ascending. The statement keeps those of the hour before `at` (the
 * caller's newest `created_at` in the batch, or the window's newest second when a replica's clock
 * is behind, so the seconds stay sorted), admits as many of the caller's applications as the
 * limit leaves room for among them (`taken`: the first ones, in arrival order), appends their
 * seconds and keeps the newest $2. ON CONFLICT DO UPDATE locks the caller's row and sees its
 * newest committed version, so the limit is exact across concurrent statements on every replica
 * without any other lock; the rows are locked in the callers' order, so two replicas' statements
 * never wait on each other in a cycle.
 *
 * Only the admitted applications are written: the application, its people, its outbox rows, its
 * audit entry and its Idempotency-Key. A key already taken fails the whole statement (unique
 * violation) and nothing of the batch is written. The answer: each input's `ord` with its new
 * id, or a null id and its caller's window.
 */
const CREATE_APPLICATIONS: Statement = {
  name: 'laifang_create_applications',
  text: `with input as (
  select * from jsonb_to_recordset($1::jsonb) as i(ord int, subject_type smallint, kind text, name text, phone text, purpose int,
    purpose_name text, come_from text, remark text, proposer text, proposer_weixin_user_id text, interviewee text,
    interviewee_phone text, interviewee_subject_id int, start_time bigint, end_time bigint, is_auth smallint, auth_time bigint,
    created_at bigint, people jsonb, outbox jsonb, audit jsonb, idem jsonb)
), callers as (
  select proposer, count(*)::int as n, max(created_at) as at from input group by proposer
), win as (
  insert into apply_windows as w (phone, applied_at, taken)
  select proposer, array_fill(at, array[least(n, $2::int)]), least(n, $2::int) from callers order by proposer
  on conflict (phone) do update set (applied_at, taken) = (
    select (h.kept || array_fill(a.at, array[t.take]))[greatest(1, cardinality(h.kept) + t.take - $2::int + 1):], t.take
    from (select greatest(excluded.applied_at[1], w.applied_at[cardinality(w.applied_at)]) as at) a
      cross join lateral (select coalesce(array_agg(u.s order by u.o), '{}'::bigint[]) as kept
        from unnest(w.applied_at) with ordinality as u(s, o) where u.s > a.at - 3600) h
      cross join lateral (select greatest(0, least(excluded.taken, $2::int - cardinality(h.kept)))::int as take) t)
  returning w.phone, w.taken, w.applied_at
), ids as materialized (
  select i.*, nextval('applications_id_seq') as id
  from (select input.*, row_number() over (partition by input.proposer order by input.ord) as k from input) i
  join win on win.phone = i.proposer and i.k <= win.taken
), app as (
  insert into applications (id, subject_type, kind, name, phone, purpose, purpose_name, come_from, remark, proposer,
    proposer_weixin_user_id, interviewee, interviewee_phone, interviewee_subject_id, start_time, end_time, is_auth, auth_time, created_at)
  select id, subject_type, kind, name, phone, purpose, purpose_name, come_from, remark, proposer, proposer_weixin_user_id,
    interviewee, interviewee_phone, interviewee_subject_id, start_time, end_time, is_auth, auth_time, created_at
  from ids
), people as (
  insert into application_people (application_id, role, position, name, phone, is_proposer, created_at)
  select ids.id, p.role, p.position, p.name, p.phone, p.phone = ids.proposer, ids.created_at
  from ids, jsonb_to_recordset(ids.people) as p(role text, position int, name text, phone text)
), outbox as (
  insert into notifications (application_id, event, channel, phone, template, payload, created_at)
  select ids.id, n.event, n.channel, n.phone, n.template, n.payload, $3::timestamptz
  from ids, jsonb_to_recordset(ids.outbox) as n(event text, channel text, phone text, template text, payload jsonb)
), audit as (
  insert into audit_log (at, actor_kind, actor_id, action, target_type, target_id, detail)
  select ids.created_at, e.actor_kind, e.actor_id, e.action, 'application', ids.id::text, e.detail
  from ids, jsonb_to_record(ids.audit) as e(actor_kind text, actor_id text, action text, detail jsonb)
  where ids.audit is not null
), keys as (
  insert into idempotency_keys (owner, key, request_hash, application_id, response, created_at)
  select k.owner, k.key, k.request_hash, ids.id, k.response || jsonb_build_object('id', ids.id), $3::timestamptz
  from ids, jsonb_to_record(ids.idem) as k(owner text, key text, request_hash text, response jsonb)
  where ids.idem is not null
)
select input.ord, ids.id, case when ids.id is null then win.applied_at end as applied_at
from input left join ids on ids.ord = input.ord left join win on win.phone = input.proposer`,
};

/** One application as the statement's JSON reads it. */
function inputOf({ row, people, outbox, audit, idempotency }: NewApplicationBatchItem, ord: number) {
  return {
    ord,
    subject_type: row.subjectType ?? 1,
    kind: row.kind,
    name: row.name,
    phone: row.phone,
    purpose: row.purpose ?? 0,
    purpose_name: row.purposeName ?? '',
    come_from: row.comeFrom ?? '',
    remark: row.remark ?? '',
    proposer: row.proposer,
    proposer_weixin_user_id: row.proposerWeixinUserId,
    interviewee: row.interviewee,
    interviewee_phone: row.intervieweePhone,
    interviewee_subject_id: row.intervieweeSubjectId ?? null,
    start_time: row.startTime,
    end_time: row.endTime,
    is_auth: row.isAuth,
    auth_time: row.authTime ?? null,
    created_at: row.createdAt,
    people: people.map((person, position) => ({ role: person.role, position, name: person.name, phone: person.phone })),
    outbox: outboxJson(outbox),
    audit: audit ? { actor_kind: audit.actorKind, actor_id: audit.actorId.slice(0, 128), action: audit.action, detail: audit.detail } : null,
    idem: idempotency ? { owner: idempotency.owner, key: idempotency.key, request_hash: idempotency.requestHash, response: idempotency.response } : null,
  };
}

/**
 * Writes a batch of applications in one auto-committed statement (CREATE_APPLICATIONS): one
 * result per application, in order. Throws when an Idempotency-Key is taken; then nothing of
 * the batch is written.
 */
export async function createBatch(database: Database, batch: ReadonlyArray<NewApplicationBatchItem>, perHour: number, at: Date): Promise<BatchResult[]> {
  const input = JSON.stringify(batch.map(inputOf));
  const rows = await database.query<{ ord: number; id: string | number | null; applied_at: Array<string | number> | null }>(CREATE_APPLICATIONS, [
    input,
    perHour,
    at,
  ]);
  const results: BatchResult[] = batch.map(() => ({ limited: [] }));
  for (const r of rows) results[r.ord] = r.id == null ? { limited: (r.applied_at ?? []).map(Number) } : { id: Number(r.id) };
  return results;
}
