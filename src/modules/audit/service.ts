import type { Db } from '../../db/client.js';
import { auditLog } from '../../db/schema.js';

export type ActorKind = 'admin' | 'device' | 'staff' | 'visitor' | 'system';

export interface AuditEntry {
  actor: { kind: ActorKind; id: string };
  /** Dotted verb, e.g. `admin.login`, `device.revoke`, `application.authorize`, `visit.signin`. */
  action: string;
  targetType: string;
  targetId: string;
  /** Extra facts for the reader; never a password, token or full phone number. */
  detail?: object;
}

export interface Audit {
  /**
   * Appends one entry through `executor` — pass the open transaction so the entry commits (or
   * rolls back) with the change it describes.
   */
  record(executor: Db, entry: AuditEntry): Promise<void>;
}

export function createAudit(deps: { db: Db; now: () => number }): Audit {
  return {
    async record(executor, e) {
      await (executor ?? deps.db).insert(auditLog).values({
        at: Math.floor(deps.now() / 1000),
        actorKind: e.actor.kind,
        actorId: e.actor.id.slice(0, 128),
        action: e.action.slice(0, 64),
        targetType: e.targetType.slice(0, 32),
        targetId: e.targetId.slice(0, 128),
        detail: e.detail ?? {},
      });
    },
  };
}
