import { and, eq, gte, lt, sql } from 'drizzle-orm';
import type { Database, Db, Statement } from '../../db/client.js';
import { applicationPeople, applications, idempotencyKeys } from '../../db/schema.js';
import { outboxJson, type OutboxRow } from '../notifications/outbox.js';

/** The record as the contract shows it (api-contract.md §4). */
export interface ApplicationRecord {
  id: number;
  subject_type: number;
  name: string;
  phone: string;
  purpose: number;
  purpose_name: string;
  come_from: string;
  remark: string;
  proposer: string;
  interviewee: string;
  interviewee_phone: string;
  start_time: number;
  end_time: number;
  is_auth: number;
  auth_time: number | null;
  created_at: number;
  retinues: Array<{ name: string; phone: string }>;
}

const a = applications;

/** The record's companions, as the contract's `retinues`, for a select over `applications`. */
export const retinuesOf = sql<Array<{ name: string; phone: string }>>`(
  select coalesce(json_agg(json_build_object('name', r.name, 'phone', r.phone) order by r.position), '[]'::json)
  from ${applicationPeople} r where r.application_id = ${applications.id} and r.role = 'companion')`;

/** The columns of the contract's record (§4), for a select over `applications`. */
export const recordColumns = {
  id: a.id,
  subject_type: a.subjectType,
  name: a.name,
  phone: a.phone,
  purpose: a.purpose,
  purpose_name: a.purposeName,
  come_from: a.comeFrom,
  remark: a.remark,
  proposer: a.proposer,
  interviewee: a.interviewee,
  interviewee_phone: a.intervieweePhone,
  start_time: a.startTime,
  end_time: a.endTime,
  is_auth: a.isAuth,
  auth_time: a.authTime,
  created_at: a.createdAt,
  retinues: retinuesOf,
};

/**
 * The hot read paths (3.9, 3.10) are plain SQL written once: one named statement per list
 * and filter, one round trip per page. The database returns the page already as JSON (rows
 * with their companions aggregated by a lateral join) together with the count the list
 * envelope needs, so no query is built and no row is mapped in JavaScript per call.
 */
const RECORD_JSON = `json_build_object(
  'id', a.id, 'subject_type', a.subject_type, 'name', a.name, 'phone', a.phone, 'purpose', a.purpose,
  'purpose_name', a.purpose_name, 'come_from', a.come_from, 'remark', a.remark, 'proposer', a.proposer,
  'interviewee', a.interviewee, 'interviewee_phone', a.interviewee_phone, 'start_time', a.start_time,
  'end_time', a.end_time, 'is_auth', a.is_auth, 'auth_time', a.auth_time, 'created_at', a.created_at,
  'retinues', coalesce(c.retinues, '[]'::json))`;

const COMPANIONS = `left join lateral (
    select json_agg(json_build_object('name', r.name, 'phone', r.phone) order by r.position) as retinues
    from application_people r where r.application_id = a.id and r.role = 'companion') c on true`;

export type ListKind = 'involving' | 'proposed';

/**
 * The page's keys, read in order from the caller's own index entries ($1 phone, $2 limit,
 * $3 offset, $4 is_auth when filtered). NULLS LAST matches the indexes' order, so the index
 * serves the sort (test/api/query-plans.test.ts holds this).
 */
function keysSql(kind: ListKind, filtered: boolean): { keys: string; count: string } {
  if (kind === 'involving') {
    const from = filtered
      ? `application_people p join applications f on f.id = p.application_id where p.phone = $1 and not p.is_proposer and f.is_auth = $4`
      : `application_people p where p.phone = $1 and not p.is_proposer`;
    return {
      keys: `select p.application_id as id, p.created_at from ${from} order by p.created_at desc nulls last, p.application_id desc nulls last limit $2 offset $3`,
      count: `select count(*)::int from ${from}`,
    };
  }
  const where = `f.proposer = $1${filtered ? ' and f.is_auth = $4' : ''}`;
  return {
    keys: `select f.id, f.created_at from applications f where ${where} order by f.created_at desc nulls last, f.id desc nulls last limit $2 offset $3`,
    count: `select count(*)::int from applications f where ${where}`,
  };
}

function listStatement(kind: ListKind, filtered: boolean): Statement {
  const { keys, count } = keysSql(kind, filtered);
  return {
    name: `laifang_${kind}_page${filtered ? '_auth' : ''}`,
    text: `select (${count}) as count,
  (select coalesce(json_agg(${RECORD_JSON} order by k.created_at desc, k.id desc), '[]'::json)
   from (${keys}) k join applications a on a.id = k.id
   ${COMPANIONS}) as rows`,
  };
}

const LIST_STATEMENTS = {
  involving: [listStatement('involving', false), listStatement('involving', true)],
  proposed: [listStatement('proposed', false), listStatement('proposed', true)],
} as const;

/** The statement and values of one page (exported for the query-plan test, which EXPLAINs the very text). */
export function pageQuery(kind: ListKind, phone: string, isAuth: number | undefined, page: Page): { stmt: Statement; values: unknown[] } {
  const values: unknown[] = [phone, page.size, (page.page - 1) * page.size];
  if (isAuth !== undefined) values.push(isAuth);
  return { stmt: LIST_STATEMENTS[kind][isAuth === undefined ? 0 : 1], values };
}

interface PageRow {
  count: number;
  rows: ApplicationRecord[];
}

function pageResult(result: PageRow[]): { rows: ApplicationRecord[]; count: number } {
  const [row] = result;
  return { rows: row?.rows ?? [], count: row?.count ?? 0 };
}

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

/**
 * What became of one application of a batch: its new id, or, when its caller's hourly limit
 * left no room for it, the caller's window (the Unix seconds of its newest applications).
 */
export type BatchResult = { id: number } | { limited: number[] };

export type NewApplication = typeof applications.$inferInsert;
export interface AuditEntry {
  actorKind: string;
  actorId: string;
  action: string;
  detail: Record<string, unknown>;
}
/** One application of a batch: the row, its people, its planned messages, and what else it writes. */
export interface NewApplicationBatchItem {
  row: NewApplication;
  people: NewPerson[];
  outbox: ReadonlyArray<OutboxRow>;
  audit: AuditEntry | null;
  /** The Idempotency-Key's row; its stored `response` gets the new id. */
  idempotency: { owner: string; key: string; requestHash: string; response: Record<string, unknown> } | null;
}
export interface NewPerson {
  role: 'host' | 'visitor' | 'companion';
  name: string;
  phone: string;
}

export interface Page {
  page: number;
  size: number;
}

export const applicationRepo = {
  /**
   * Applications in one statement (see CREATE_APPLICATIONS): for each, its new id, or, when its
   * caller's hourly limit left no room for it, the caller's window as the statement left it
   * (then nothing of it is written). Throws when an Idempotency-Key is taken; then nothing of the
   * batch is written.
   */
  async createBatch(database: Database, batch: ReadonlyArray<NewApplicationBatchItem>, perHour: number, at: Date): Promise<BatchResult[]> {
    const input = batch.map(({ row, people, outbox, audit, idempotency }, ord) => ({
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
    }));
    const rows = await database.query<{ ord: number; id: string | number | null; applied_at: Array<string | number> | null }>(CREATE_APPLICATIONS, [
      JSON.stringify(input),
      perHour,
      at,
    ]);
    const results: BatchResult[] = batch.map(() => ({ limited: [] }));
    for (const r of rows) results[r.ord] = r.id == null ? { limited: (r.applied_at ?? []).map(Number) } : { id: Number(r.id) };
    return results;
  },

  async findById(db: Db, id: number, opts: { forUpdate?: boolean } = {}): Promise<ApplicationRecord | null> {
    const q = db.select(recordColumns).from(applications).where(eq(applications.id, id)).limit(1);
    const [row] = opts.forUpdate ? await q.for('update', { of: applications }) : await q;
    return row ?? null;
  },

  /**
   * A page of 3.9 ('involving': records involving `phone` as host, visitor or companion that
   * somebody else proposed) or 3.10 ('proposed': records `phone` proposed), and how many there are.
   */
  async listPage(
    database: Database,
    kind: ListKind,
    phone: string,
    isAuth: number | undefined,
    page: Page,
  ): Promise<{ rows: ApplicationRecord[]; count: number }> {
    const { stmt, values } = pageQuery(kind, phone, isAuth, page);
    return pageResult(await database.query<PageRow>(stmt, values));
  },

  async markAuthorized(tx: Db, id: number, at: number): Promise<void> {
    await tx.update(applications).set({ isAuth: 1, authTime: at }).where(eq(applications.id, id));
  },
};

export const idempotencyRepo = {
  async find(db: Db, owner: string, key: string, notBefore: Date) {
    const [row] = await db
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.owner, owner), eq(idempotencyKeys.key, key), gte(idempotencyKeys.createdAt, notBefore)))
      .limit(1);
    return row ?? null;
  },

  /** An expired key, so that its name can be used again. */
  async deleteExpired(db: Db, owner: string, key: string, notBefore: Date): Promise<void> {
    await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.owner, owner), eq(idempotencyKeys.key, key), lt(idempotencyKeys.createdAt, notBefore)));
  },
};
