import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/client.js';
import { auditRoutes } from '../audit/routes.js';
import type { Audit } from '../audit/service.js';
import { createDeviceManagement } from '../devices/management.js';
import { deviceRoutes } from '../devices/routes.js';
import type { Devices } from '../devices/service.js';
import { createSettingsChanges } from '../settings/changes.js';
import type { ServerSettings } from '../settings/servers.js';
import type { TemplateSettings } from '../settings/templates.js';
import { adminRecordRoutes } from './records-routes.js';
import { createAdminRecordService } from './records-service.js';
import { adminSessionRoutes } from './routes.js';
import type { AdminAccounts } from './service.js';
import { settingsRoutes } from './settings-routes.js';

/** Everything the admin API and device authentication need (built in runtime.ts). */
export interface AdminApi {
  devices: Devices;
  audit: Audit;
  accounts: AdminAccounts;
  servers: ServerSettings;
  templates: TemplateSettings;
}

/**
 * The admin API: session and password, run-time settings, devices, the records listing and
 * deletion, the audit log. The operations that change something and audit it are built here
 * over the database and the audit log.
 */
export function registerAdminApi(app: FastifyInstance, deps: { db: Db; api: AdminApi }): void {
  const { db, api } = deps;
  const { audit } = api;
  adminSessionRoutes(app, { accounts: api.accounts });
  settingsRoutes(app, {
    servers: api.servers,
    templates: api.templates,
    changes: createSettingsChanges({
      db,
      audit,
      servers: api.servers,
      templates: api.templates,
      confirmAdmin: (id, password, address) => api.accounts.confirmPassword(id, password, address),
    }),
  });
  deviceRoutes(app, { devices: api.devices, management: createDeviceManagement({ db, devices: api.devices, audit }) });
  adminRecordRoutes(app, { records: createAdminRecordService({ db, audit }) });
  auditRoutes(app, { audit });
}
