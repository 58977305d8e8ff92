import type { Database } from '../db/client.js';
import type { AdminApi } from '../modules/admin/register.js';
import { createAdminAccounts } from '../modules/admin/service.js';
import { createAdminTokens } from '../modules/admin/tokens.js';
import type { Audit } from '../modules/audit/service.js';
import { createDevices } from '../modules/devices/service.js';
import type { Ports } from './ports.js';
import type { Step } from './steps.js';

/** Simulated mode only (`npm start` with no integration configured): printed in the start banner. */
export const DEMO_ADMIN = { username: 'admin', password: 'laifang-demo-admin' } as const;

/**
 * Admin accounts, devices, audit and settings. The first admin comes from ADMIN_USERNAME /
 * ADMIN_PASSWORD, or, simulated with the demo data, is the demo admin; either only while the
 * database has no admin.
 */
export async function adminStep(step: Step, deps: { database: Database; ports: Ports; audit: Audit; secret: string; seedDemo: boolean }): Promise<AdminApi> {
  const { config, logger, now } = step;
  const { database, audit } = deps;
  const devices = createDevices({ db: database.db, now, database });
  const admins = createAdminAccounts({ db: database.db, tokens: createAdminTokens(deps.secret, 12 * 3600), audit, now });
  if (config.firstAdmin && (await admins.ensureFirst(config.firstAdmin)))
    logger.info({ username: config.firstAdmin.username }, 'created the first admin from ADMIN_USERNAME');
  if (config.simulated && !config.firstAdmin && deps.seedDemo && (await admins.ensureFirst(DEMO_ADMIN)))
    logger.info({ username: DEMO_ADMIN.username }, 'created the demo admin (simulated mode)');
  return { devices, audit, accounts: admins, servers: deps.ports.servers, templates: deps.ports.templates };
}
