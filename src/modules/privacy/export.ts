import type { Db } from '../../db/client.js';
import { maskPhone } from '../../log.js';
import { phoneField } from '../../phone.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import { privacyRepo } from './repo.js';
import type { PrivacyExport } from './service.js';
import { tracesRepo } from './traces.js';

/**
 * Everything held about one phone (a PIPL access request), read in one transaction with its
 * audit entry: an export that is answered is also recorded, under the masked number.
 */
export async function exportPhone(deps: { db: Db; audit: Audit }, by: AuditEntry['actor'], input: string): Promise<PrivacyExport> {
  const phone = phoneField('phone', input);
  return deps.db.transaction(async (tx) => {
    const apps = await privacyRepo.ownedRecords(tx, phone);
    const ids = apps.map((a) => a.id);
    const companionOf = await privacyRepo.companionEntries(tx, phone);
    const notes = await privacyRepo.notifications(tx, phone);
    const codes = await privacyRepo.smsCodes(tx, phone);
    const staff = await privacyRepo.staff(tx, phone);
    const audit = await tracesRepo.auditEntries(tx, phone);
    const pictures = await tracesRepo.pictures(tx, phone);
    await deps.audit.record(tx, { actor: by, action: 'privacy.export', targetType: 'phone', targetId: maskPhone(phone) });
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
      audit: audit.map((e) => ({
        id: e.id,
        at: e.at,
        actor_kind: e.actorKind,
        actor_id: e.actorId,
        action: e.action,
        target_type: e.targetType,
        target_id: e.targetId,
        detail: e.detail,
      })),
      pictures: pictures.map((p) => ({
        kind: 'avatar' as const,
        source_url: p.sourceUrl,
        storage_key: p.storageKey,
        content_type: p.contentType,
        bytes: p.bytes,
        landed_at: p.landedAt.toISOString(),
      })),
    };
  });
}
