import { and, count, desc, eq, gte, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { admins, auditLog, devices } from '../../db/schema.js';

export type AuditRow = typeof auditLog.$inferSelect;

/** Exact-match filters of the audit log, and a time range (Unix seconds, inclusive). */
export interface AuditFilter {
  action?: string;
  actor_kind?: string;
  actor_id?: string;
  /** Who acted, as the console names them: an admin's username, a device's name, or an actor id. */
  actor?: string;
  target_type?: string;
  target_id?: string;
  start_time?: number;
  end_time?: number;
  page: number;
  size: number;
}

/** Entries by the admin of that username, the device of that name, or the actor of that id. */
function byActorName(name: string): SQL {
  return or(
    eq(auditLog.actorId, name),
    and(eq(auditLog.actorKind, 'admin'), sql`${auditLog.actorId} in (select ${admins.id}::text from ${admins} where ${admins.username} = ${name})`),
    and(eq(auditLog.actorKind, 'device'), sql`${auditLog.actorId} in (select ${devices.id}::text from ${devices} where ${devices.name} = ${name})`),
  )!;
}

export const auditRepo = {
  async insert(executor: Db, row: typeof auditLog.$inferInsert): Promise<void> {
    await executor.insert(auditLog).values(row);
  },

  /** One page of the entries matching `f`, newest first, and how many match in all. */
  async page(db: Db, f: AuditFilter): Promise<{ rows: AuditRow[]; count: number }> {
    const where: SQL[] = [];
    if (f.action) where.push(eq(auditLog.action, f.action));
    if (f.actor_kind) where.push(eq(auditLog.actorKind, f.actor_kind));
    if (f.actor_id) where.push(eq(auditLog.actorId, f.actor_id));
    if (f.actor) where.push(byActorName(f.actor));
    if (f.target_type) where.push(eq(auditLog.targetType, f.target_type));
    if (f.target_id) where.push(eq(auditLog.targetId, f.target_id));
    if (f.start_time !== undefined) where.push(gte(auditLog.at, f.start_time));
    if (f.end_time !== undefined) where.push(lte(auditLog.at, f.end_time));
    const filter = where.length > 0 ? and(...where) : undefined;
    const [rows, [total]] = await Promise.all([
      db
        .select()
        .from(auditLog)
        .where(filter)
        .orderBy(desc(auditLog.at), desc(auditLog.id))
        .limit(f.size)
        .offset((f.page - 1) * f.size),
      db.select({ n: count() }).from(auditLog).where(filter),
    ]);
    return { rows, count: total?.n ?? 0 };
  },
};
