import { eq, sql, type SQLWrapper } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { applicationPeople, applications } from '../../db/schema.js';
import type { ApplicationRecord, VisitStatus } from './schemas.js';

const a = applications;

/** The record's companions, as the contract's `retinues`, for a select over `applications`. */
export const retinuesOf = sql<ApplicationRecord['retinues']>`(
  select coalesce(json_agg(json_build_object('name', r.name, 'phone', r.phone) order by r.position), '[]'::json)
  from ${applicationPeople} r where r.application_id = ${applications.id} and r.role = 'companion')`;

/**
 * The record (schemas.ts `Record`) as a select over `applications`: one column per key of the
 * schema, no more, no fewer (the type says so here; test/api/record-shape.test.ts reads a record
 * through it on a real database).
 */
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
  status: sql<VisitStatus>`${a.status}`,
  status_reason: a.statusReason,
  signin_time: a.signinTime,
  signout_time: a.signoutTime,
} satisfies { [K in keyof ApplicationRecord]: SQLWrapper };

export type NewApplication = typeof applications.$inferInsert;

export interface NewPerson {
  role: 'host' | 'visitor' | 'companion';
  name: string;
  phone: string;
}

/** The audit row the statement that writes an application adds for it (a staff invitation's authorization). */
export interface BatchAuditRow {
  actorKind: string;
  actorId: string;
  action: string;
  detail: { [key: string]: unknown };
}

export type ListKind = 'involving' | 'proposed';

export interface Page {
  page: number;
  size: number;
}

export const applicationRepo = {
  async findById(db: Db, id: number, opts: { forUpdate?: boolean } = {}): Promise<ApplicationRecord | null> {
    const q = db.select(recordColumns).from(applications).where(eq(applications.id, id)).limit(1);
    const [row] = opts.forUpdate ? await q.for('update', { of: applications }) : await q;
    return row ?? null;
  },

  async markAuthorized(tx: Db, id: number, at: number): Promise<void> {
    await tx.update(applications).set({ isAuth: 1, authTime: at }).where(eq(applications.id, id));
  },
};
