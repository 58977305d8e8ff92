import { and, count, eq, gte, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
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
const p = applicationPeople;

const retinuesOf = sql<Array<{ name: string; phone: string }>>`(
  select coalesce(json_agg(json_build_object('name', r.name, 'phone', r.phone) order by r.position), '[]'::json)
  from ${applicationPeople} r where r.application_id = ${applications.id} and r.role = 'companion')`;

const recordColumns = {
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

export type NewApplication = typeof applications.$inferInsert;
export interface NewPerson {
  role: 'host' | 'visitor' | 'companion';
  name: string;
  phone: string;
}

export interface Page {
  page: number;
  size: number;
}

function involvingCondition(phone: string, isAuth: number | undefined): SQL | undefined {
  const where: SQL[] = [eq(p.phone, phone), sql`not ${p.isProposer}`];
  if (isAuth !== undefined) where.push(eq(a.isAuth, isAuth));
  return and(...where);
}

function proposedCondition(phone: string, isAuth: number | undefined): SQL | undefined {
  return isAuth === undefined ? eq(a.proposer, phone) : and(eq(a.proposer, phone), eq(a.isAuth, isAuth));
}

export const applicationRepo = {
  async insert(tx: Db, row: NewApplication, people: NewPerson[]): Promise<number> {
    const [created] = await tx.insert(applications).values(row).returning({ id: applications.id });
    const id = created!.id;
    await tx.insert(applicationPeople).values(
      people.map((person, position) => ({
        applicationId: id,
        role: person.role,
        position,
        name: person.name,
        phone: person.phone,
        isProposer: person.phone === row.proposer,
        createdAt: row.createdAt,
      })),
    );
    return id;
  },

  async findById(db: Db, id: number, opts: { forUpdate?: boolean } = {}): Promise<ApplicationRecord | null> {
    const q = db.select(recordColumns).from(applications).where(eq(applications.id, id)).limit(1);
    const [row] = opts.forUpdate ? await q.for('update', { of: applications }) : await q;
    return row ?? null;
  },

  /** 3.9 page query: records involving `phone` (host, visitor or companion) that somebody else proposed. */
  involvingPage(db: Db, phone: string, isAuth: number | undefined, page: Page) {
    return db
      .select(recordColumns)
      .from(applicationPeople)
      .innerJoin(applications, eq(applications.id, applicationPeople.applicationId))
      .where(involvingCondition(phone, isAuth))
      // NULLS LAST matches the index's order, so the index serves the sort.
      .orderBy(sql`${p.createdAt} desc nulls last`, sql`${p.applicationId} desc nulls last`)
      .limit(page.size)
      .offset((page.page - 1) * page.size);
  },

  /** 3.10 page query: records proposed by `phone`. */
  proposedPage(db: Db, phone: string, isAuth: number | undefined, page: Page) {
    return db
      .select(recordColumns)
      .from(applications)
      .where(proposedCondition(phone, isAuth))
      .orderBy(sql`${a.createdAt} desc nulls last`, sql`${a.id} desc nulls last`)
      .limit(page.size)
      .offset((page.page - 1) * page.size);
  },

  async listInvolving(db: Db, phone: string, isAuth: number | undefined, page: Page): Promise<{ rows: ApplicationRecord[]; count: number }> {
    const cond = involvingCondition(phone, isAuth);
    const [rows, [total]] = await Promise.all([
      applicationRepo.involvingPage(db, phone, isAuth, page),
      isAuth === undefined
        ? db.select({ n: count() }).from(applicationPeople).where(cond)
        : db.select({ n: count() }).from(applicationPeople).innerJoin(applications, eq(applications.id, applicationPeople.applicationId)).where(cond),
    ]);
    return { rows, count: Number(total?.n ?? 0) };
  },

  async listProposedBy(db: Db, phone: string, isAuth: number | undefined, page: Page): Promise<{ rows: ApplicationRecord[]; count: number }> {
    const [rows, [total]] = await Promise.all([
      applicationRepo.proposedPage(db, phone, isAuth, page),
      db.select({ n: count() }).from(applications).where(proposedCondition(phone, isAuth)),
    ]);
    return { rows, count: Number(total?.n ?? 0) };
  },

  /** Creation times (Unix seconds) of the caller's applications since `since`, oldest first. */
  async proposedSince(db: Db, phone: string, since: number): Promise<number[]> {
    const rows = await db
      .select({ createdAt: a.createdAt })
      .from(applications)
      .where(and(eq(a.proposer, phone), gte(a.createdAt, since)))
      .orderBy(a.createdAt);
    return rows.map((r) => r.createdAt);
  },

  async markAuthorized(tx: Db, id: number, at: number): Promise<void> {
    await tx.update(applications).set({ isAuth: 1, authTime: at }).where(eq(applications.id, id));
  },

  async insertNotifications(tx: Db, applicationId: number, planned: PlannedNotification[], at: Date): Promise<number[]> {
    if (planned.length === 0) return [];
    const rows = await tx
      .insert(notifications)
      .values(planned.map((n) => ({ applicationId, event: n.event, channel: n.channel, phone: n.phone, template: n.template, payload: n.payload, createdAt: at })))
      .onConflictDoNothing()
      .returning({ id: notifications.id });
    return rows.map((r) => r.id);
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
