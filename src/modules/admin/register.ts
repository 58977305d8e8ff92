import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/client.js';
import { auditRoutes } from '../audit/routes.js';
import type { Audit } from '../audit/service.js';
import { deviceRoutes } from '../devices/routes.js';
import type { Devices } from '../devices/service.js';
import type { ServerSettings } from '../settings/servers.js';
import type { TemplateSettings } from '../settings/templates.js';
import { adminRecordRoutes } from './records-routes.js';
import { adminRoutes } from './routes.js';
import type { AdminAccounts } from './service.js';

/** Everything the admin API and device authentication need (built in runtime.ts). */
export interface AdminApi {
  devices: Devices;
  audit: Audit;
  accounts: AdminAccounts;
  servers: ServerSettings;
  templates: TemplateSettings;
}

export function registerAdminApi(app: FastifyInstance, deps: { db: Db; api: AdminApi }): void {
  const { db, api } = deps;
  adminRoutes(app, { db, accounts: api.accounts, audit: api.audit, servers: api.servers, templates: api.templates });
  deviceRoutes(app, { db, devices: api.devices, audit: api.audit });
  adminRecordRoutes(app, { db, audit: api.audit });
  auditRoutes(app, { db });
}
