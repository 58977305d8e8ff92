import type { StoragePort } from '../../adapters/storage/port.js';
import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { maskPhone } from '../../log.js';
import { phoneField } from '../../phone.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import { privacyRepo } from './repo.js';
import type { PrivacyErasure } from './service.js';
import { tracesRepo } from './traces.js';

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
 * would leave a face in the access system. Audit entries naming the phone stay, with the number
 * masked (service.ts says why). The landed avatar goes from storage too: its files are deleted
 * last inside the transaction, so a storage failure rolls the erasure back (503, to be retried)
 * rather than leaving a face no row points at.
 */
export async function erasePhone(deps: { db: Db; audit: Audit; storage: StoragePort }, by: AuditEntry['actor'], input: string): Promise<PrivacyErasure> {
  const phone = phoneField('phone', input);
  return deps.db.transaction(async (tx) => {
    const open = await privacyRepo.openVisit(tx, phone);
    if (open !== null) throw new AppError('CONFLICT', `访问记录 ${open} 正在进行或门禁访客尚未删除：请先签出，稍后再删除`);
    // The pictures are found through the cached employee record, which eraseAll deletes.
    const pictures = await tracesRepo.erasePictures(tx, phone);
    const erased = await privacyRepo.eraseAll(tx, phone);
    const auditEntriesMasked = await tracesRepo.pseudonymiseAudit(tx, phone, maskPhone(phone));
    const counts = { ...erased, auditEntriesMasked, picturesDeleted: pictures.rows };
    for (const key of pictures.keys) await deps.storage.delete(key);
    await deps.audit.record(tx, { actor: by, action: 'privacy.erase', targetType: 'phone', targetId: maskPhone(phone), detail: counts });
    return { phone, ...counts, notHeldHere: NOT_HELD_HERE };
  });
}
