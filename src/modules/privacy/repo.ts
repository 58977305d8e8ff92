import { and, eq, inArray, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { applicationPeople, applications, applyWindows, idempotencyKeys, notifications, smsCodes, staffCache, visitPasses } from '../../db/schema.js';
import { recordColumns } from '../applications/repo.js';

/** Where the phone is the visitor, the proposer or the host: the record is about them. */
const ownsRecord = (phone: string) => or(eq(applications.phone, phone), eq(applications.proposer, phone), eq(applications.intervieweePhone, phone));

/** What is held about one phone, table by table, and its deletion. */
export const privacyRepo = {
  /** The records about the phone: the contract's record (without subject_type) and its kind, companions included. */
  async ownedRecords(db: Db, phone: string) {
    const { subject_type: _subjectType, id, ...recordFields } = recordColumns;
    return db
      .select({ id, kind: applications.kind, ...recordFields })
      .from(applications)
      .where(ownsRecord(phone))
      .orderBy(applications.id);
  },

  /** The phone's entries as a companion (of any record). */
  async companionEntries(db: Db, phone: string) {
    return db
      .select({ application_id: applicationPeople.applicationId, name: applicationPeople.name, created_at: applicationPeople.createdAt })
      .from(applicationPeople)
      .where(and(eq(applicationPeople.phone, phone), eq(applicationPeople.role, 'companion')))
      .orderBy(applicationPeople.applicationId);
  },

  async notifications(db: Db, phone: string) {
    return db.select().from(notifications).where(eq(notifications.phone, phone)).orderBy(notifications.id);
  },

  async smsCodes(db: Db, phone: string) {
    return db.select().from(smsCodes).where(eq(smsCodes.phone, phone)).orderBy(smsCodes.id);
  },

  async staff(db: Db, phone: string) {
    const [row] = await db.select().from(staffCache).where(eq(staffCache.phone, phone)).limit(1);
    return row ?? null;
  },

  /**
   * A visit about the phone (or with its pass) that is in progress, or whose Koala visitors are
   * not yet deleted; null when there is none.
   */
  async openVisit(tx: Db, phone: string): Promise<number | null> {
    const [open] = await tx
      .select({ id: visitPasses.applicationId })
      .from(visitPasses)
      .innerJoin(applications, eq(applications.id, visitPasses.applicationId))
      .where(
        and(
          or(ownsRecord(phone), eq(visitPasses.phone, phone)),
          or(
            and(sql`${applications.signinTime} is not null`, sql`${applications.signoutTime} is null`),
            and(sql`${visitPasses.subjectId} is not null`, sql`${visitPasses.subjectDeletedAt} is null`),
          ),
        ),
      )
      .limit(1);
    return open?.id ?? null;
  },

  /** Deletes everything held about the phone; returns how many rows of each kind went. */
  async eraseAll(tx: Db, phone: string) {
    const owned = await tx.select({ id: applications.id }).from(applications).where(ownsRecord(phone));
    const ids = owned.map((r) => r.id);
    // Stored answers of POST /v1/subject hold the record: they go with it (and any that name the phone).
    const keys = await tx
      .delete(idempotencyKeys)
      .where(or(ids.length > 0 ? inArray(idempotencyKeys.applicationId, ids) : sql`false`, sql`${idempotencyKeys.response}::text like ${`%${phone}%`}`))
      .returning({ k: idempotencyKeys.key });
    const none = ids.length === 0;
    // The passes and notifications of these records (everyone's), and the phone's own in other
    // records, deleted here so that the counts say what went (the cascade would not count them).
    const passes = await tx
      .delete(visitPasses)
      .where(or(none ? sql`false` : inArray(visitPasses.applicationId, ids), eq(visitPasses.phone, phone)))
      .returning({ id: visitPasses.id });
    const notes = await tx
      .delete(notifications)
      .where(or(none ? sql`false` : inArray(notifications.applicationId, ids), eq(notifications.phone, phone)))
      .returning({ id: notifications.id });
    // The records' people go with them (ON DELETE CASCADE): counted as the records.
    const apps = ids.length > 0 ? await tx.delete(applications).where(inArray(applications.id, ids)).returning({ id: applications.id }) : [];
    // In other people's records the phone is a companion: only that entry goes.
    const companions = await tx.delete(applicationPeople).where(eq(applicationPeople.phone, phone)).returning({ id: applicationPeople.applicationId });
    const codes = await tx.delete(smsCodes).where(eq(smsCodes.phone, phone)).returning({ id: smsCodes.id });
    const staff = await tx.delete(staffCache).where(eq(staffCache.phone, phone)).returning({ p: staffCache.phone });
    // The times of the phone's applications of the last hour (its hourly limit): they went above.
    await tx.delete(applyWindows).where(eq(applyWindows.phone, phone));
    return {
      applicationsDeleted: apps.length,
      companionEntriesDeleted: companions.length,
      passesDeleted: passes.length,
      notificationsDeleted: notes.length,
      smsCodesDeleted: codes.length,
      idempotencyKeysDeleted: keys.length,
      staffCacheDeleted: staff.length,
    };
  },

  /**
   * One batch of the retention sweep: up to `batchSize` records whose window ended before
   * `cutoffSeconds`, oldest id first, in a transaction of its own under the advisory lock
   * `lockKey`. Null when another replica holds the lock (it is sweeping).
   */
  async deleteExpiredBatch(db: Db, cutoffSeconds: number, batchSize: number, lockKey: number): Promise<number | null> {
    return db.transaction(async (tx) => {
      // Both drivers answer `execute` with `{ rows }`.
      const lock = (await tx.execute(sql`select pg_try_advisory_xact_lock(${lockKey}) as ok`)) as unknown as { rows: Array<{ ok: boolean }> };
      if (!lock.rows[0]?.ok) return null;
      // A record whose Koala visitor is not yet deleted waits: its pass row is what the check-out
      // job works from, and a face must not stay in the access system unaccounted for.
      const batch = tx
        .select({ id: applications.id })
        .from(applications)
        .where(
          and(
            lt(applications.endTime, cutoffSeconds),
            sql`not exists (select 1 from ${visitPasses} p where p.application_id = ${applications.id} and p.subject_id is not null and p.subject_deleted_at is null)`,
          ),
        )
        .orderBy(applications.id)
        .limit(batchSize);
      const deleted = await tx.delete(applications).where(inArray(applications.id, batch)).returning({ id: applications.id });
      return deleted.length;
    });
  },
};
