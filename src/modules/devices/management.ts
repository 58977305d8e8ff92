import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import { deviceRepo } from './repo.js';
import type { Device, DeviceKind, Devices } from './service.js';

/** What admins do to devices: each change in one transaction with its audit entry. */
export interface DeviceManagement {
  /** The token is in this answer once and never again. */
  register(by: AuditEntry['actor'], input: { name: string; kind: DeviceKind }): Promise<Device & { token: string; createdAt: number }>;
  /** Revoking twice is fine (idempotent); an id that never existed is NOT_FOUND. */
  revoke(by: AuditEntry['actor'], id: number): Promise<void>;
}

export function createDeviceManagement(deps: { db: Db; devices: Devices; audit: Audit }): DeviceManagement {
  const { db, devices, audit } = deps;
  return {
    register(by, input) {
      return db.transaction(async (tx) => {
        const d = await devices.register({ name: input.name.trim(), kind: input.kind }, tx);
        await audit.record(tx, { actor: by, action: 'device.register', targetType: 'device', targetId: String(d.id), detail: { name: d.name, kind: d.kind } });
        return d;
      });
    },
    async revoke(by, id) {
      const revoked = await db.transaction(async (tx) => {
        if (!(await devices.revoke(id, tx))) return false;
        await audit.record(tx, { actor: by, action: 'device.revoke', targetType: 'device', targetId: String(id) });
        return true;
      });
      if (!revoked && !(await deviceRepo.exists(db, id))) throw new AppError('NOT_FOUND', '设备不存在');
    },
  };
}
