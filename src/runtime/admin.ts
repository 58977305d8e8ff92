import type { Database } from '../db/client.js';
import { bootstrapAdmins } from '../modules/admin/bootstrap.js';
import type { AdminApi } from '../modules/admin/register.js';
import { createAdminAccounts } from '../modules/admin/service.js';
import { createAdminTokens } from '../modules/admin/tokens.js';
import type { Audit } from '../modules/audit/service.js';
import { createDevices } from '../modules/devices/service.js';
import type { Ports } from './ports.js';
import type { Step } from './steps.js';

export { DEMO_ADMIN } from '../modules/admin/bootstrap.js';

/**
 * Admin accounts, devices, audit and settings. The first admin comes from ADMIN_USERNAME /
 * ADMIN_PASSWORD, or, simulated with the demo data, is the demo admin; with the real
 * integrations the demo admin is removed (src/modules/admin/bootstrap.ts).
 */
export async function adminStep(step: Step, deps: { database: Database; ports: Ports; audit: Audit; secret: string; seedDemo: boolean }): Promise<AdminApi> {
  const { config, logger, now } = step;
  const { database, audit } = deps;
  const devices = createDevices({ db: database.db, now, database });
  const accounts = createAdminAccounts({ db: database.db, tokens: createAdminTokens(deps.secret, 12 * 3600), audit, now });
  await bootstrapAdmins({ db: database.db, accounts, audit, logger }, { simulated: config.simulated, seedDemo: deps.seedDemo, firstAdmin: config.firstAdmin });
  return { devices, audit, accounts, servers: deps.ports.servers, templates: deps.ports.templates };
}
