import type { StoragePort } from '../../adapters/storage/port.js';
import type { Db } from '../../db/client.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import { erasePhone } from './erase.js';
export { NOT_HELD_HERE } from './erase.js';
import { exportPhone } from './export.js';

/**
 * PIPL: everything this service holds about one phone number, and its erasure. An admin
 * operation (the routes are `auth: 'admin'`), audited in the transaction that does it.
 *
 * Not held here, so not covered: the WeChat ↔ phone binding lives in the WeChat interface cloud
 * service (unbind there, or the person unbinds with DELETE /v1/subject/binding/{weixinUserId});
 * Koala's employee records are Koala's; Aliyun keeps its own SMS delivery records; log lines
 * carry masked numbers only (138****0001).
 *
 * The audit log names a staff member's phone as the actor of what they did (an authorization,
 * a check-out). Erasure keeps those entries — the log is the record of who changed what, and an
 * erasure must not erase the history of other people's records with it — and replaces the number
 * in them by its masked form (138****0001), the form the service writes everywhere else (logs,
 * the privacy entries themselves). A keyed hash was not chosen: whoever holds the server secret
 * could hash every mobile number (about 10^10) and find the person again, so it would stay a
 * personal identifier; the masked form keeps 7 of 11 digits, which an auditor can match against
 * a known number but which names nobody by itself.
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
  /** Audit entries that name the phone (as who acted, what was acted on, or in the detail). */
  audit: Array<{ id: number; at: number; actor_kind: string; actor_id: string; action: string; target_type: string; target_id: string; detail: unknown }>;
  /** Pictures held in our storage: the employee's avatar landed from Koala. */
  pictures: Array<{ kind: 'avatar'; source_url: string; storage_key: string; content_type: string; bytes: number; landed_at: string }>;
}

export interface PrivacyErasure {
  phone: string;
  /** Records about the phone (visitor, proposer or host), with their companions. */
  applicationsDeleted: number;
  /** The phone's entries as a companion in other people's records. */
  companionEntriesDeleted: number;
  /** Passes of the deleted records (everyone's), and the phone's own in other records. */
  passesDeleted: number;
  /** Notifications of the deleted records (to anyone), and the phone's own of other records. */
  notificationsDeleted: number;
  smsCodesDeleted: number;
  idempotencyKeysDeleted: number;
  staffCacheDeleted: number;
  /** Audit entries kept with the number replaced by its masked form. */
  auditEntriesMasked: number;
  /** Landed pictures (the avatar) forgotten, and their files deleted from storage. */
  picturesDeleted: number;
  /** What this service cannot erase, for the answer to the person. */
  notHeldHere: string[];
}

export interface Privacy {
  /** Everything held about `phone`, for `by` (audited). */
  exportPhone(by: AuditEntry['actor'], phone: string): Promise<PrivacyExport>;
  /** Erases everything held about `phone` (audited); CONFLICT while a visit of it is in progress. */
  erasePhone(by: AuditEntry['actor'], phone: string): Promise<PrivacyErasure>;
}

export function createPrivacy(deps: { db: Db; audit: Audit; storage: StoragePort }): Privacy {
  return {
    exportPhone: (by, phone) => exportPhone(deps, by, phone),
    erasePhone: (by, phone) => erasePhone(deps, by, phone),
  };
}
