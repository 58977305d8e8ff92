import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { maskPhone } from '../../log.js';
import { phoneField } from '../../phone.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import { privacyRepo } from './repo.js';
import type { PrivacyErasure } from './service.js';

/** What this service cannot erase, for the answer to the person. */
export const NOT_HELD_HERE = [
  'WeChat binding (WeChat interface cloud service): unbind there, or by DELETE /v1/subject/binding/{weixinUserId}',
  'Koala employee / visitor records (the Koala box)',
  'SMS delivery records at Aliyun SMS',
];

/**
 * Erases everything held about one phone (a PIPL deletion request), in one transaction with its
 * audit entry (the masked number and the counts). A visit in progress, or one whose Koala
 * visitors are not yet deleted, is checked out first (POST /v1/visit/signout): erasing it here
 * would leave a face in the access system.
 */
export async function erasePhone(deps: { db: Db; audit: Audit }, by: AuditEntry['actor'], input: string): Promise<PrivacyErasure> {
  const phone = phoneField('phone', input);
  return deps.db.transaction(async (tx) => {
    const open = await privacyRepo.openVisit(tx, phone);
    if (open !== null) throw new AppError('CONFLICT', `访问记录 ${open} 正在进行或门禁访客尚未删除：请先签出，稍后再删除`);
    const counts = await privacyRepo.eraseAll(tx, phone);
    await deps.audit.record(tx, { actor: by, action: 'privacy.erase', targetType: 'phone', targetId: maskPhone(phone), detail: counts });
    return { phone, ...counts, notHeldHere: NOT_HELD_HERE };
  });
}
