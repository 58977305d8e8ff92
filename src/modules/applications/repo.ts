import { and, eq, gte, sql } from 'drizzle-orm';
import type { Database, Db, Statement } from '../../db/client.js';
import { applicationPeople, applications, idempotencyKeys, notifications } from '../../db/schema.js';
import type { PlannedNotification } from './messages.js';

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
 * The created_at of a caller's n-th newest application since a time, read from the caller's
 * index entries; the three parameters are the caller's phone, the time and n - 1.
 */
const nthNewestSinceSql = (phone: string, since: string, offset: string) => `select created_at from applications where proposer = ${phone} and created_at >= ${since}
  order by created_at desc nulls last, id desc nulls last offset ${offset} limit 1`;

/**
 * An application, in one statement (the apply transaction's only round trip besides its lock):
 * the caller's hourly limit ($20 since, $21 = limit - 1: the created_at of the caller's
 * limit-th newest application since then, if there is one, means the limit is reached and
 * nothing is written), the application, its people ($19), its outbox rows ($22 created_at,
 * $23 rows) and its audit entry ($24, optional). The limit is read with the statement's
 * snapshot, taken after the caller's lock was granted: it sees every earlier application of the
 * caller that committed.
 */
const CREATE_APPLICATION: Statement = {
  name: 'laifang_create_application',
  text: `with limited as (
  ${nthNewestSinceSql('$9', '$20', '$21')}
), app as (
  insert into applications (subject_type, kind, name, phone, purpose, purpose_name, come_from, remark, proposer,
    proposer_weixin_user_id, interviewee, interviewee_phone, interviewee_subject_id, start_time, end_time, is_auth, auth_time, created_at)
  select $1::smallint, $2::text, $3::text, $4::text, $5::int, $6::text, $7::text, $8::text, $9::text, $10::text, $11::text, $12::text,
    $13::int, $14::bigint, $15::bigint, $16::smallint, $17::bigint, $18::bigint
  where not exists (select 1 from limited)
  returning id, proposer, created_at
), people as (
  insert into application_people (application_id, role, position, name, phone, is_proposer, created_at)
  select app.id, p.role, p.position, p.name, p.phone, p.phone = app.proposer, app.created_at
  from app, json_to_recordset($19::json) as p(role text, position int, name text, phone text)
), outbox as (
  insert into notifications (application_id, event, channel, phone, template, payload, created_at)
  select app.id, n.event, n.channel, n.phone, n.template, n.payload, $22::timestamptz
  from app, jsonb_to_recordset($23::jsonb) as n(event text, channel text, phone text, template text, payload jsonb)
  on conflict do nothing
), audit as (
  insert into audit_log (at, actor_kind, actor_id, action, target_type, target_id, detail)
  select app.created_at, e.actor_kind, e.actor_id, e.action, 'application', app.id::text, e.detail
  from app, jsonb_to_record($24::jsonb) as e(actor_kind text, actor_id text, action text, detail jsonb)
  where $24::jsonb is not null
)
select (select id from app) as id, (select created_at from limited) as limited_at`,
};

const NTH_NEWEST_SINCE: Statement = {
  name: 'laifang_nth_newest_since',
  text: nthNewestSinceSql('$1', '$2', '$3'),
};

export type NewApplication = typeof applications.$inferInsert;
/** An outbox row an event plans (this module's or the front desk's sign-in). */
export type OutboxRow = Omit<PlannedNotification, 'event' | 'template'> & { event: string; template: string };
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
   * The application with its people, outbox rows and audit entry in one statement, unless the
   * caller already made `perHour` applications in the hour before `row.createdAt`: then nothing
   * is written and the answer is the creation time of the oldest of those (when a slot frees).
   */
  async create(
    database: Database,
    tx: Db,
    row: NewApplication,
    people: NewPerson[],
    outbox: { rows: ReadonlyArray<OutboxRow>; at: Date },
    audit: { actorKind: string; actorId: string; action: string; detail: Record<string, unknown> } | null,
    perHour: number,
  ): Promise<{ id: number } | { limitedAt: number }> {
    const values = [
      row.subjectType ?? 1, row.kind, row.name, row.phone, row.purpose ?? 0, row.purposeName ?? '', row.comeFrom ?? '', row.remark ?? '',
      row.proposer, row.proposerWeixinUserId, row.interviewee, row.intervieweePhone, row.intervieweeSubjectId,
      row.startTime, row.endTime, row.isAuth, row.authTime ?? null, row.createdAt,
      JSON.stringify(people.map((person, position) => ({ role: person.role, position, name: person.name, phone: person.phone }))),
      row.createdAt - 3600 + 1,
      perHour - 1,
      outbox.at,
      JSON.stringify(outbox.rows.map((n) => ({ event: n.event, channel: n.channel, phone: n.phone, template: n.template, payload: n.payload }))),
      audit ? JSON.stringify({ actor_kind: audit.actorKind, actor_id: audit.actorId.slice(0, 128), action: audit.action, detail: audit.detail }) : null,
    ];
    const [result] = await database.query<{ id: string | number | null; limited_at: string | number | null }>(CREATE_APPLICATION, values, tx);
    if (result?.id == null) return { limitedAt: Number(result?.limited_at) };
    return { id: Number(result.id) };
  },

  /**
   * Creation time of the caller's `n`-th newest application since `since` (Unix seconds), or
   * null when there are fewer than `n`: the hourly limit is reached iff there is one, and the
   * answer is when a slot frees. Reads at most `n` index entries, returns one value.
   */
  async nthNewestSince(database: Database, phone: string, since: number, n: number, tx?: Db): Promise<number | null> {
    const [row] = await database.query<{ created_at: string | number }>(NTH_NEWEST_SINCE, [phone, since, n - 1], tx);
    return row ? Number(row.created_at) : null;
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
  async listPage(database: Database, kind: ListKind, phone: string, isAuth: number | undefined, page: Page): Promise<{ rows: ApplicationRecord[]; count: number }> {
    const { stmt, values } = pageQuery(kind, phone, isAuth, page);
    return pageResult(await database.query<PageRow>(stmt, values));
  },

  async markAuthorized(tx: Db, id: number, at: number): Promise<void> {
    await tx.update(applications).set({ isAuth: 1, authTime: at }).where(eq(applications.id, id));
  },

  /** The outbox rows of an application's later event (authorized, signed in); the worker sends them once the transaction commits. */
  async insertNotifications(tx: Db, applicationId: number, planned: ReadonlyArray<OutboxRow>, at: Date): Promise<void> {
    if (planned.length === 0) return;
    await tx
      .insert(notifications)
      .values(planned.map((n) => ({ applicationId, event: n.event, channel: n.channel, phone: n.phone, template: n.template, payload: n.payload, createdAt: at })))
      .onConflictDoNothing();
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

  async save(tx: Db, row: typeof idempotencyKeys.$inferInsert): Promise<void> {
    // An expired key with the same name is replaced.
    await tx
      .insert(idempotencyKeys)
      .values(row)
      .onConflictDoUpdate({
        target: [idempotencyKeys.owner, idempotencyKeys.key],
        set: { requestHash: row.requestHash, applicationId: row.applicationId, response: row.response, createdAt: row.createdAt },
      });
  },
};
