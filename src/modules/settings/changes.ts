import type { Db } from '../../db/client.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import type { ServerSettings, ServersInput, ServersView } from './servers.js';
import type { TemplateSettings, TemplatesInput } from './templates.js';

/** The admin making a change, and where from (the password check is limited per address). */
export interface ChangingAdmin {
  id: number;
  address: string;
}

/** A server change; `admin_password` is the changing admin's own password, checked when given. */
export type ServersChange = ServersInput & { admin_password?: string };

/** What admins change at run time: each change in one transaction with its audit entry. */
export interface SettingsChanges {
  /** Changes the Koala or cloud connection; in force on this replica as soon as it returns. */
  updateServers(by: ChangingAdmin, input: ServersChange): Promise<ServersView>;
  /** Overrides template ids per event and channel (null removes an override). */
  updateTemplates(by: AuditEntry['actor'], input: TemplatesInput): Promise<Awaited<ReturnType<TemplateSettings['view']>>>;
}

export interface SettingsChangesDeps {
  db: Db;
  audit: Audit;
  servers: ServerSettings;
  templates: TemplateSettings;
  /** Checks an admin's own password: throws FORBIDDEN when wrong, RATE_LIMITED after too many wrong ones. */
  confirmAdmin(adminId: number, password: string, address: string): Promise<void>;
}

export function createSettingsChanges(deps: SettingsChangesDeps): SettingsChanges {
  const { db, audit, servers, templates } = deps;
  return {
    async updateServers(admin, { admin_password, ...input }) {
      // Checked before the transaction (scrypt takes a while); a password sent is always checked.
      if (admin_password !== undefined) await deps.confirmAdmin(admin.id, admin_password, admin.address);
      const by: AuditEntry['actor'] = { kind: 'admin', id: String(admin.id) };
      await db.transaction(async (tx) => {
        const changed = await servers.update(tx, input, { adminPassword: admin_password !== undefined });
        if (changed.length === 0) return;
        // The new addresses and account name; of the password only that it changed (never its value, not even sealed).
        const values = Object.fromEntries(
          (['koala_url', 'koala_username', 'cloud_url'] as const).filter((f) => changed.includes(f)).map((f) => [f, input[f]?.trim()]),
        );
        await audit.record(tx, { actor: by, action: 'config.servers.update', targetType: 'settings', targetId: 'servers', detail: { changed, ...values } });
      });
      await servers.refresh();
      return servers.view();
    },

    async updateTemplates(by, input) {
      await db.transaction(async (tx) => {
        const changed = await templates.update(tx, input);
        if (changed.length === 0) return;
        await audit.record(tx, {
          actor: by,
          action: 'config.templates.update',
          targetType: 'settings',
          targetId: 'templates',
          detail: { changed, body: input },
        });
      });
      return templates.view();
    },
  };
}
