import { inArray } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { admins, applications, devices, staffCache } from '../../db/schema.js';

/** Who acted and on what, in words: usernames, device names, a record's visitor and host. */
export interface AuditNames {
  actor(kind: string, id: string): string | null;
  target(type: string, id: string): string | null;
}

const ids = (values: Iterable<string>) => [...new Set([...values].filter((v) => /^[1-9]\d{0,15}$/.test(v)).map(Number))];

/**
 * The names of a page of entries, in one statement per kind of thing named (at most four). A
 * thing deleted since has no name (null): the entry's detail says what it was.
 */
export async function namesOf(db: Db, rows: Array<{ actorKind: string; actorId: string; targetType: string; targetId: string }>): Promise<AuditNames> {
  const adminIds = ids(rows.flatMap((r) => [r.actorKind === 'admin' ? r.actorId : '', r.targetType === 'admin' ? r.targetId : '']));
  const deviceIds = ids(rows.flatMap((r) => [r.actorKind === 'device' ? r.actorId : '', r.targetType === 'device' ? r.targetId : '']));
  const recordIds = ids(rows.filter((r) => r.targetType === 'application').map((r) => r.targetId));
  const staffPhones = [...new Set(rows.filter((r) => r.actorKind === 'staff' && /^1\d{10}$/.test(r.actorId)).map((r) => r.actorId))];
  const [a, d, rec, s] = await Promise.all([
    adminIds.length ? db.select({ id: admins.id, name: admins.username }).from(admins).where(inArray(admins.id, adminIds)) : [],
    deviceIds.length ? db.select({ id: devices.id, name: devices.name }).from(devices).where(inArray(devices.id, deviceIds)) : [],
    recordIds.length
      ? db
          .select({ id: applications.id, name: applications.name, host: applications.interviewee })
          .from(applications)
          .where(inArray(applications.id, recordIds))
      : [],
    staffPhones.length ? db.select({ phone: staffCache.phone, name: staffCache.name }).from(staffCache).where(inArray(staffCache.phone, staffPhones)) : [],
  ]);
  const adminNames = new Map(a.map((x) => [String(x.id), x.name]));
  const deviceNames = new Map(d.map((x) => [String(x.id), x.name]));
  const recordNames = new Map(rec.map((x) => [String(x.id), `${x.name} 拜访 ${x.host}`]));
  const staffNames = new Map(s.map((x) => [x.phone, x.name]));
  return {
    actor(kind, id) {
      if (kind === 'admin') return adminNames.get(id) ?? null;
      if (kind === 'device') return deviceNames.get(id) ?? null;
      if (kind === 'staff') return staffNames.get(id) ?? null;
      return null;
    },
    target(type, id) {
      if (type === 'admin') return adminNames.get(id) ?? null;
      if (type === 'device') return deviceNames.get(id) ?? null;
      if (type === 'application') return recordNames.get(id) ?? null;
      return null;
    },
  };
}
