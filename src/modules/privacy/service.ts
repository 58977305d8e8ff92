import { and, eq, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { applicationPeople, applications, applyWindows, idempotencyKeys, notifications, smsCodes, staffCache, visitPasses } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { recordColumns } from '../applications/repo.js';
import { normalizePhone } from '../../phone.js';

/**
 * PIPL: everything this service holds about one phone number, and its erasure (issue 6). An
 * admin operation (the routes are `auth: 'admin'`).
 *
 * Not held here, so not covered: the WeChat ↔ phone binding lives in the WeChat interface cloud
 * service (unbind there, or the person unbinds with DELETE /v1/subject/binding/{weixinUserId});
 * Koala's employee records are Koala's; Aliyun keeps its own SMS delivery records; log lines
 * carry masked numbers only (138****0001). Applications stored by the front-desk features
 * (visits, audit log) are in their own tables and are not covered yet.
 */
export interface PrivacyExport {
  phone: string;
  /** Records where the phone is the visitor, the proposer or the host, whole. */
  applications: Array<Record<string, unknown>>;
  /** Records of other people where the phone is only a companion: just that entry. */
  companionOf: Array<{ application_id: number; name: string; created_at: number }>;
  notifications: Array<{
    id: number;
    application_id: number;
    event: string;
    channel: string;
    template: string;
    status: string;
    payload: unknown;
    created_at: string;
  }>;
  /** Verification codes sent (only keyed hashes are kept: the codes themselves are not recoverable). */
  smsCodes: Array<{ created_at: string; expires_at: string; spent: boolean }>;
  /** What Koala told us, when the phone is an employee's. */
  staff: { subject_id: number; name: string; department: string } | null;
}

export interface PrivacyErasure {
  phone: string;
  applicationsDeleted: number;
  companionEntriesDeleted: number;
  passesDeleted: number;
  notificationsDeleted: number;
  smsCodesDeleted: number;
  idempotencyKeysDeleted: number;
  staffCacheDeleted: number;
  /** What this service cannot erase, for the answer to the person. */
  notHeldHere: string[];
}

export interface Privacy {
  exportPhone(phone: string): Promise<PrivacyExport>;
  erasePhone(phone: string): Promise<PrivacyErasure>;
}

export const NOT_HELD_HERE = [
  'WeChat binding (WeChat interface cloud service): unbind there, or by DELETE /v1/subject/binding/{weixinUserId}',
  'Koala employee / visitor records (the Koala box)',
  'SMS delivery records at Aliyun SMS',
];

export function createPrivacy(deps: { db: Db }): Privacy {
  const { db } = deps;
  /** Where the phone is the visitor, the proposer or the host: the record is about them. */
  const ownsRecord = (phone: string) => or(eq(applications.phone, phone), eq(applications.proposer, phone), eq(applications.intervieweePhone, phone));

  const valid = (input: string): string => {
    const phone = normalizePhone(input);
    if (!phone) throw new AppError('VALIDATION_FAILED', '字段 phone 不是有效的手机号');
    return phone;
  };

  return {
    async exportPhone(input) {
      const phone = valid(input);
      // The contract's record (without subject_type) and its kind, companions included.
      const { subject_type: _subjectType, id, ...recordFields } = recordColumns;
      const apps = await db
        .select({ id, kind: applications.kind, ...recordFields })
        .from(applications)
        .where(ownsRecord(phone))
        .orderBy(applications.id);
      const ids = apps.map((a) => a.id);
      const companionOf = await db
        .select({ application_id: applicationPeople.applicationId, name: applicationPeople.name, created_at: applicationPeople.createdAt })
        .from(applicationPeople)
        .where(and(eq(applicationPeople.phone, phone), eq(applicationPeople.role, 'companion')))
        .orderBy(applicationPeople.applicationId);
      const notes = await db.select().from(notifications).where(eq(notifications.phone, phone)).orderBy(notifications.id);
      const codes = await db.select().from(smsCodes).where(eq(smsCodes.phone, phone)).orderBy(smsCodes.id);
      const [staff] = await db.select().from(staffCache).where(eq(staffCache.phone, phone)).limit(1);
      return {
        phone,
        applications: apps,
        companionOf: companionOf.filter((c) => !ids.includes(c.application_id)),
        notifications: notes.map((n) => ({
          id: n.id,
          application_id: n.applicationId,
          event: n.event,
          channel: n.channel,
          template: n.template,
          status: n.status,
          payload: n.payload,
          created_at: n.createdAt.toISOString(),
        })),
        smsCodes: codes.map((c) => ({ created_at: c.createdAt.toISOString(), expires_at: c.expiresAt.toISOString(), spent: c.spentAt !== null })),
        staff: staff ? { subject_id: staff.subjectId, name: staff.name, department: staff.department } : null,
      };
    },

    async erasePhone(input) {
      const phone = valid(input);
      return db.transaction(async (tx) => {
        // Stored answers of POST /v1/subject hold the record: they go with it (and any that name the phone).
        // A visit in progress, or one whose Koala visitors are not yet deleted, is checked out
        // first (POST /v1/visit/signout): erasing it here would leave a face in the access system.
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
        if (open) throw new AppError('CONFLICT', `访问记录 ${open.id} 正在进行或门禁访客尚未删除：请先签出，稍后再删除`);
        const owned = await tx.select({ id: applications.id }).from(applications).where(ownsRecord(phone));
        const ids = owned.map((r) => r.id);
        const keys = await tx
          .delete(idempotencyKeys)
          .where(or(ids.length > 0 ? inArray(idempotencyKeys.applicationId, ids) : sql`false`, sql`${idempotencyKeys.response}::text like ${`%${phone}%`}`))
          .returning({ k: idempotencyKeys.key });
        // People and notifications of these records go with them (ON DELETE CASCADE).
        const apps = ids.length > 0 ? await tx.delete(applications).where(inArray(applications.id, ids)).returning({ id: applications.id }) : [];
        // In other people's records the phone is a companion: only that entry goes.
        const companions = await tx.delete(applicationPeople).where(eq(applicationPeople.phone, phone)).returning({ id: applicationPeople.applicationId });
        const passes = await tx.delete(visitPasses).where(eq(visitPasses.phone, phone)).returning({ id: visitPasses.id });
        const notes = await tx.delete(notifications).where(eq(notifications.phone, phone)).returning({ id: notifications.id });
        const codes = await tx.delete(smsCodes).where(eq(smsCodes.phone, phone)).returning({ id: smsCodes.id });
        const staff = await tx.delete(staffCache).where(eq(staffCache.phone, phone)).returning({ p: staffCache.phone });
        // The times of the phone's applications of the last hour (its hourly limit): they went above.
        await tx.delete(applyWindows).where(eq(applyWindows.phone, phone));
        return {
          phone,
          applicationsDeleted: apps.length,
          companionEntriesDeleted: companions.length,
          passesDeleted: passes.length,
          notificationsDeleted: notes.length,
          smsCodesDeleted: codes.length,
          idempotencyKeysDeleted: keys.length,
          staffCacheDeleted: staff.length,
          notHeldHere: NOT_HELD_HERE,
        };
      });
    },
  };
}
