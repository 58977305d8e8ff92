import type { Db } from '../../db/client.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import { adminRecords, type AdminRecord, type AdminRecordFilter } from './records.js';

/** The admin's view of every application: the filtered list, and deletion. */
export interface AdminRecordService {
  list(filter: AdminRecordFilter): Promise<{ rows: AdminRecord[]; count: number }>;
  /**
   * Deletes an application with its people and notifications, in one transaction with its audit
   * entry (what the record was); NOT_FOUND, or CONFLICT while the visit is in progress.
   */
  remove(by: AuditEntry['actor'], id: number): Promise<void>;
}

export function createAdminRecordService(deps: { db: Db; audit: Audit }): AdminRecordService {
  const { db, audit } = deps;
  return {
    list: (filter) => adminRecords.list(db, filter),
    async remove(by, id) {
      await db.transaction(async (tx) => {
        const gone = await adminRecords.remove(tx, id);
        await audit.record(tx, { actor: by, action: 'application.delete', targetType: 'application', targetId: String(id), detail: gone });
      });
    },
  };
}
