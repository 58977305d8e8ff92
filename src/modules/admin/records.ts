import { and, count, desc, eq, exists, gte, ilike, inArray, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { applicationPeople, applications } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { phoneField } from '../../phone.js';
import { recordColumns } from '../applications/repo.js';
import type { ApplicationRecord } from '../applications/schemas.js';

/** The listing's filters (also those of the ledger export and the statistics). */
export interface RecordFilter {
  /** One record by its id (the console's links from the audit log). */
  id?: number;
  name?: string;
  interviewee?: string;
  phone?: string;
  interviewee_phone?: string;
  start_time?: number;
  end_time?: number;
  is_auth?: 0 | 1;
}

export interface AdminRecordFilter extends RecordFilter {
  page: number;
  size: number;
}

export type AdminRecord = ApplicationRecord & { kind: string };

const a = applications;
const p = applicationPeople;

/** `%`, `_` and `\` typed into a search box are matched as themselves. */
const contains = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

// The contract's record (with the front desk's sign-in and check-out), plus whether it was an
// invitation or a request.
export const adminRecordColumns = { ...recordColumns, kind: a.kind };

/** A visitor or a companion of the application matching `cond` on application_people. */
const somePerson = (db: Db, cond: SQL) =>
  exists(
    db
      .select({ x: sql`1` })
      .from(p)
      .where(and(eq(p.applicationId, a.id), inArray(p.role, ['visitor', 'companion']), cond)),
  );

/**
 * The listing's filters as a condition on `applications` (shared with the ledger export and the
 * statistics, so they select the same records). `name` and `phone` match the visitor or any
 * companion; `start_time`/`end_time` select visits whose window overlaps that range.
 */
export function recordFilterWhere(db: Db, f: RecordFilter): SQL | undefined {
  const where: SQL[] = [];
  if (f.id !== undefined) where.push(eq(a.id, f.id));
  if (f.name) where.push(or(ilike(a.name, contains(f.name)), somePerson(db, ilike(p.name, contains(f.name))))!);
  if (f.phone) where.push(or(eq(a.phone, f.phone), somePerson(db, eq(p.phone, f.phone)))!);
  if (f.interviewee) where.push(ilike(a.interviewee, contains(f.interviewee)));
  if (f.interviewee_phone) where.push(eq(a.intervieweePhone, f.interviewee_phone));
  if (f.start_time !== undefined) where.push(gte(a.endTime, f.start_time));
  if (f.end_time !== undefined) where.push(lte(a.startTime, f.end_time));
  if (f.is_auth !== undefined) where.push(eq(a.isAuth, f.is_auth));
  return where.length > 0 ? and(...where) : undefined;
}

/** Blank texts are no filter; a phone filter must be a phone; the range must not be reversed. */
export function cleanRecordFilter<T extends RecordFilter>(q: T): T {
  if (q.start_time !== undefined && q.end_time !== undefined && q.start_time > q.end_time)
    throw new AppError('VALIDATION_FAILED', '字段 end_time 不能早于 start_time');
  return {
    ...q,
    name: q.name?.trim() || undefined,
    interviewee: q.interviewee?.trim() || undefined,
    phone: phoneFilter('phone', q.phone),
    interviewee_phone: phoneFilter('interviewee_phone', q.interviewee_phone),
  };
}

/** A phone filter: absent or blank is no filter; anything else must be a phone. */
const phoneFilter = (field: string, v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : phoneField(field, v));

export const adminRecords = {
  /** Every application matching the filters (recordFilterWhere), newest first. */
  async list(db: Db, f: AdminRecordFilter): Promise<{ rows: AdminRecord[]; count: number }> {
    const filter = recordFilterWhere(db, f);
    const [rows, [total]] = await Promise.all([
      db
        .select(adminRecordColumns)
        .from(a)
        .where(filter)
        .orderBy(desc(a.createdAt), desc(a.id))
        .limit(f.size)
        .offset((f.page - 1) * f.size),
      db.select({ n: count() }).from(a).where(filter),
    ]);
    return { rows: rows as AdminRecord[], count: total?.n ?? 0 };
  },

  /**
   * Deletes an application with its people and notifications (pending ones are thereby
   * cancelled: the worker finds no row and sends nothing). A visit in progress — signed in and
   * not yet out — is refused, so no visitor is left in Koala without a record to check out.
   */
  async remove(tx: Db, id: number): Promise<{ name: string; interviewee: string; start_time: number; end_time: number }> {
    const [row] = await tx
      .select({ name: a.name, interviewee: a.interviewee, start_time: a.startTime, end_time: a.endTime, signin: a.signinTime, signout: a.signoutTime })
      .from(a)
      .where(eq(a.id, id))
      .for('update')
      .limit(1);
    if (!row) throw new AppError('NOT_FOUND');
    if (row.signin !== null && row.signout === null) throw new AppError('CONFLICT', '访客已签到尚未签出，请先签出再删除记录');
    await tx.delete(a).where(eq(a.id, id));
    return { name: row.name, interviewee: row.interviewee, start_time: row.start_time, end_time: row.end_time };
  },
};
