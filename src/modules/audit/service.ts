import type { Db } from '../../db/client.js';
import { namesOf } from './names.js';
import { auditRepo, type AuditFilter } from './repo.js';

export type { AuditFilter } from './repo.js';

/** `wechat`: a WeChat user acting on their own sessions (id: the openid). */
export type ActorKind = 'admin' | 'device' | 'staff' | 'visitor' | 'wechat' | 'system';

export interface AuditEntry {
  actor: { kind: ActorKind; id: string };
  /** Dotted verb, e.g. `admin.login`, `device.revoke`, `application.authorize`, `visit.signin`. */
  action: string;
  targetType: string;
  targetId: string;
  /** Extra facts for the reader; never a password, token or full phone number. */
  detail?: object;
}

/** An entry as the admin API lists it. */
export interface AuditView {
  id: number;
  at: number;
  actor_kind: string;
  actor_id: string;
  /** The admin's username, the device's or staff member's name; null for the system, or once deleted. */
  actor_name: string | null;
  action: string;
  target_type: string;
  target_id: string;
  /** The record's visitor and host, the device's name, the admin's username; null once deleted. */
  target_name: string | null;
  detail: Record<string, unknown>;
}

export interface Audit {
  /**
   * Appends one entry through `executor` — pass the open transaction so the entry commits (or
   * rolls back) with the change it describes.
   */
  record(executor: Db, entry: AuditEntry): Promise<void>;
  /** One page of the log, newest first, with the number of matching entries. */
  list(filter: AuditFilter): Promise<{ rows: AuditView[]; count: number }>;
}

/** The append-only audit log (`audit_log`). */
export function createAudit(deps: { db: Db; now: () => number }): Audit {
  return {
    async record(executor, e) {
      await auditRepo.insert(executor ?? deps.db, {
        at: Math.floor(deps.now() / 1000),
        actorKind: e.actor.kind,
        actorId: e.actor.id.slice(0, 128),
        action: e.action.slice(0, 64),
        targetType: e.targetType.slice(0, 32),
        targetId: e.targetId.slice(0, 128),
        detail: e.detail ?? {},
      });
    },
    async list(filter) {
      const { rows, count } = await auditRepo.page(deps.db, filter);
      const names = await namesOf(deps.db, rows);
      const views = rows.map((r) => ({
        id: r.id,
        at: r.at,
        actor_kind: r.actorKind,
        actor_id: r.actorId,
        actor_name: names.actor(r.actorKind, r.actorId),
        action: r.action,
        target_type: r.targetType,
        target_id: r.targetId,
        target_name: names.target(r.targetType, r.targetId),
        detail: r.detail as Record<string, unknown>,
      }));
      return { rows: views, count };
    },
  };
}
