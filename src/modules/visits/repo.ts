import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Database, Db, Statement } from '../../db/client.js';
import { applicationPeople, applications, visitPasses } from '../../db/schema.js';

export type PassRow = typeof visitPasses.$inferSelect;

/** What sign-in and check-out need of an application. */
export interface VisitApplication {
  id: number;
  name: string;
  phone: string;
  purpose: number;
  comeFrom: string;
  interviewee: string;
  intervieweePhone: string;
  startTime: number;
  endTime: number;
  isAuth: number;
  signinTime: number | null;
  signoutTime: number | null;
}

const visitColumns = {
  id: applications.id,
  name: applications.name,
  phone: applications.phone,
  purpose: applications.purpose,
  comeFrom: applications.comeFrom,
  interviewee: applications.interviewee,
  intervieweePhone: applications.intervieweePhone,
  startTime: applications.startTime,
  endTime: applications.endTime,
  isAuth: applications.isAuth,
  signinTime: applications.signinTime,
  signoutTime: applications.signoutTime,
};

/** The turnstile's one query: the pass by its token hash, with its visit's window and check-out. */
const PASS_BY_HASH: Statement = {
  name: 'visit_pass_by_token_hash',
  text: `select p.id, p.application_id, p.name, p.revoked_at, a.start_time, a.end_time, a.signout_time
           from visit_passes p join applications a on a.id = p.application_id
          where p.token_hash = $1`,
};

export interface PassCheckRow {
  id: string | number;
  application_id: string | number;
  name: string;
  revoked_at: string | number | null;
  start_time: string | number;
  end_time: string | number;
  signout_time: string | number | null;
}

export const visitRepo = {
  /**
   * Applications whose window touches [from, to) and in which `phone` is the visitor or a
   * companion. Two index paths: people who did not propose (the partial index behind 3.9), and
   * a visitor who proposed their own request (the proposer index). Visits that ended otherwise
   * (rejected, cancelled, expired, no-show) are not among them.
   */
  async candidates(db: Db, phone: string, from: number, to: number): Promise<VisitApplication[]> {
    return db
      .select(visitColumns)
      .from(applications)
      .where(
        and(
          sql`${applications.id} in (
            select ${applicationPeople.applicationId} from ${applicationPeople}
             where ${applicationPeople.phone} = ${phone} and not ${applicationPeople.isProposer} and ${applicationPeople.role} <> 'host'
            union
            select ${applications.id} from ${applications} where ${applications.proposer} = ${phone} and ${applications.phone} = ${phone})`,
          sql`${applications.endTime} > ${from}`,
          sql`${applications.startTime} < ${to}`,
          // Rejected, cancelled, expired and no-show visits are over: nothing to sign in to.
          isNull(applications.outcome),
        ),
      )
      .orderBy(asc(applications.startTime), asc(applications.id))
      .limit(50);
  },

  async lockApplication(tx: Db, id: number): Promise<VisitApplication | null> {
    const [row] = await tx.select(visitColumns).from(applications).where(eq(applications.id, id)).limit(1).for('update');
    return row ?? null;
  },

  async findApplication(db: Db, id: number): Promise<VisitApplication | null> {
    const [row] = await db.select(visitColumns).from(applications).where(eq(applications.id, id)).limit(1);
    return row ?? null;
  },

  /** The visitor and the companions, in the record's order (the host is not a visitor). */
  async visitors(tx: Db, applicationId: number): Promise<Array<{ position: number; name: string; phone: string }>> {
    return tx
      .select({ position: applicationPeople.position, name: applicationPeople.name, phone: applicationPeople.phone })
      .from(applicationPeople)
      .where(and(eq(applicationPeople.applicationId, applicationId), sql`${applicationPeople.role} <> 'host'`))
      .orderBy(asc(applicationPeople.position));
  },

  async passes(db: Db, applicationId: number): Promise<PassRow[]> {
    return db.select().from(visitPasses).where(eq(visitPasses.applicationId, applicationId)).orderBy(asc(visitPasses.position));
  },

  async pass(db: Db, id: number): Promise<PassRow | null> {
    const [row] = await db.select().from(visitPasses).where(eq(visitPasses.id, id)).limit(1);
    return row ?? null;
  },

  async insertPasses(tx: Db, rows: Array<typeof visitPasses.$inferInsert>): Promise<PassRow[]> {
    return tx.insert(visitPasses).values(rows).returning();
  },

  async markSignedIn(tx: Db, id: number, at: number): Promise<void> {
    await tx.update(applications).set({ signinTime: at }).where(eq(applications.id, id));
  },

  async markSignedOut(tx: Db, id: number, at: number): Promise<void> {
    await tx.update(applications).set({ signoutTime: at }).where(eq(applications.id, id));
  },

  /** Revokes the passes still valid; returns every pass of the visit (their Koala subjects go). */
  async revokePasses(tx: Db, applicationId: number, at: number): Promise<PassRow[]> {
    await tx
      .update(visitPasses)
      .set({ revokedAt: at })
      .where(and(eq(visitPasses.applicationId, applicationId), isNull(visitPasses.revokedAt)));
    return visitRepo.passes(tx, applicationId);
  },

  /** The pass a short code opens (by the code's hash), with its visit's window; null when none. */
  async passByLink(db: Db, linkHash: string): Promise<{ pass: PassRow; a: VisitApplication } | null> {
    const [row] = await db
      .select({ pass: visitPasses, a: visitColumns })
      .from(visitPasses)
      .innerJoin(applications, eq(applications.id, visitPasses.applicationId))
      .where(eq(visitPasses.linkHash, linkHash))
      .limit(1);
    return row ?? null;
  },

  async setLinkHash(db: Db, id: number, linkHash: string): Promise<void> {
    await db.update(visitPasses).set({ linkHash }).where(eq(visitPasses.id, id));
  },

  /** A new token hash for a pass (the server secret changed since it was issued). */
  async rehash(db: Db, id: number, tokenHash: string): Promise<void> {
    await db.update(visitPasses).set({ tokenHash }).where(eq(visitPasses.id, id));
  },

  async checkPass(database: Database, tokenHash: string): Promise<PassCheckRow | null> {
    const [row] = await database.query<PassCheckRow>(PASS_BY_HASH, [tokenHash]);
    return row ?? null;
  },

  /**
   * Takes a pass for one Koala write until `until` (counting an attempt), when no other writer
   * holds it and the pass still needs that write: `create`, a pass without a subject and not
   * revoked; `delete`, a pass whose subject is not yet deleted. Null otherwise. One writer at a
   * time, request or job, on any replica.
   */
  async lease(db: Db, passId: number, op: 'create' | 'delete', now: number, until: number): Promise<PassRow | null> {
    const needed = op === 'create' ? and(isNull(visitPasses.subjectId), isNull(visitPasses.revokedAt)) : isNull(visitPasses.subjectDeletedAt);
    const [row] = await db
      .update(visitPasses)
      .set({ koalaLeaseUntil: until, koalaAttempts: sql`${visitPasses.koalaAttempts} + 1` })
      .where(and(eq(visitPasses.id, passId), or(isNull(visitPasses.koalaLeaseUntil), lt(visitPasses.koalaLeaseUntil, now)), needed))
      .returning();
    return row ?? null;
  },

  /** Ends a lease, recording what the Koala write did; null when the pass is gone. */
  async release(
    db: Db,
    passId: number,
    set: Partial<Pick<PassRow, 'subjectId' | 'subjectDeletedAt' | 'koalaError'>>,
  ): Promise<{ revokedAt: number | null; subjectId: number | null } | null> {
    const [row] = await db
      .update(visitPasses)
      .set({ koalaLeaseUntil: null, ...set })
      .where(eq(visitPasses.id, passId))
      .returning({ revokedAt: visitPasses.revokedAt, subjectId: visitPasses.subjectId });
    return row ?? null;
  },

  /** Visits signed in, not checked out, whose window has ended (oldest first). */
  async ended(db: Db, now: number, limit: number): Promise<number[]> {
    const rows = await db
      .select({ id: applications.id })
      .from(applications)
      .where(and(sql`${applications.signinTime} is not null`, isNull(applications.signoutTime), sql`${applications.endTime} <= ${now}`))
      .orderBy(asc(applications.endTime))
      .limit(limit);
    return rows.map((r) => r.id);
  },
};
