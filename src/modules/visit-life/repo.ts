import { and, asc, eq, inArray, isNull, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { applications, auditLog } from '../../db/schema.js';
import { applicationRepo } from '../applications/repo.js';
import type { ApplicationRecord } from '../applications/schemas.js';

/** A record with what the life of a visit reads beside it: how it was made and its revision. */
export interface LifeRecord extends ApplicationRecord {
  kind: string;
  revision: number;
}

/** The audit actions that make up a visit's timeline (`timeline.ts`). */
export const TIMELINE_ACTIONS = [
  'application.authorize',
  'visit.reject',
  'visit.cancel',
  'visit.reschedule',
  'visit.expire',
  'visit.no_show',
  'visit.signin',
  'visit.signout',
  'visit.auto_signout',
] as const;

export const lifeRepo = {
  /** The record (under its row lock when `forUpdate`), its kind and revision; null when there is none. */
  async find(db: Db, id: number, forUpdate = false): Promise<LifeRecord | null> {
    const record = await applicationRepo.findById(db, id, { forUpdate });
    if (!record) return null;
    const [row] = await db.select({ kind: applications.kind, revision: applications.revision }).from(applications).where(eq(applications.id, id));
    return row ? { ...record, ...row } : null;
  },

  /** Ends the visit as `outcome` with its reason. */
  async close(tx: Db, id: number, outcome: 'rejected' | 'cancelled' | 'expired' | 'no_show', reason: string): Promise<void> {
    await tx.update(applications).set({ outcome, statusReason: reason }).where(eq(applications.id, id));
  },

  /** A new window; `unauthorize` sends a request back to its host (pending again). The revision moves on. */
  async moveWindow(tx: Db, id: number, start: number, end: number, unauthorize: boolean): Promise<void> {
    await tx
      .update(applications)
      .set({
        startTime: start,
        endTime: end,
        revision: sql`${applications.revision} + 1`,
        ...(unauthorize ? { isAuth: 0, authTime: null } : {}),
      })
      .where(eq(applications.id, id));
  },

  /** Visits neither decided nor signed in whose window ended by `now` (the expiry sweep), oldest end first. */
  async undecidedEnded(db: Db, now: number, limit: number): Promise<number[]> {
    const rows = await db
      .select({ id: applications.id })
      .from(applications)
      .where(and(isNull(applications.outcome), isNull(applications.signinTime), lte(applications.endTime, now)))
      .orderBy(asc(applications.endTime))
      .limit(limit);
    return rows.map((r) => r.id);
  },

  /** The audit entries of the visit that its timeline shows, oldest first. */
  async timelineEntries(db: Db, id: number): Promise<Array<{ at: number; actorKind: string; actorId: string; action: string; detail: unknown }>> {
    return db
      .select({ at: auditLog.at, actorKind: auditLog.actorKind, actorId: auditLog.actorId, action: auditLog.action, detail: auditLog.detail })
      .from(auditLog)
      .where(and(eq(auditLog.targetType, 'application'), eq(auditLog.targetId, String(id)), inArray(auditLog.action, [...TIMELINE_ACTIONS])))
      .orderBy(asc(auditLog.at), asc(auditLog.id));
  },
};
