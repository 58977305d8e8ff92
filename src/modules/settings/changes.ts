import type { Db } from '../../db/client.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import type { ServerSettings, ServersInput, ServersView } from './servers.js';
import type { TemplateSettings, TemplatesInput } from './templates.js';

/** What admins change at run time: each change in one transaction with its audit entry. */
export interface SettingsChanges {
  /** Changes the Koala or cloud connection; in force on this replica as soon as it returns. */
  updateServers(by: AuditEntry['actor'], input: ServersInput): Promise<ServersView>;
  /** Overrides template ids per event and channel (null removes an override). */
  updateTemplates(by: AuditEntry['actor'], input: TemplatesInput): Promise<Awaited<ReturnType<TemplateSettings['view']>>>;
}

export function createSettingsChanges(deps: { db: Db; audit: Audit; servers: ServerSettings; templates: TemplateSettings }): SettingsChanges {
  const { db, audit, servers, templates } = deps;
  return {
    async updateServers(by, input) {
      await db.transaction(async (tx) => {
        const changed = await servers.update(tx, input);
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
