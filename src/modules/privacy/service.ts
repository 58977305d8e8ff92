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
 * carry masked numbers only (138****0001). The audit log is not covered: it never holds a
 * full number.
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
  /** Everything held about `phone`, for `by` (audited). */
  exportPhone(by: AuditEntry['actor'], phone: string): Promise<PrivacyExport>;
  /** Erases everything held about `phone` (audited); CONFLICT while a visit of it is in progress. */
  erasePhone(by: AuditEntry['actor'], phone: string): Promise<PrivacyErasure>;
}

export function createPrivacy(deps: { db: Db; audit: Audit }): Privacy {
  return {
    exportPhone: (by, phone) => exportPhone(deps, by, phone),
    erasePhone: (by, phone) => erasePhone(deps, by, phone),
  };
}
