import type { Db } from '../../db/client.js';
import type { Logger } from '../../log.js';
import type { Audit } from '../audit/service.js';
import { verifyPassword } from './password.js';
import { adminRepo } from './repo.js';
import type { AdminAccounts } from './service.js';

/** Simulated mode only (`npm start` with no integration configured): printed in the start banner. */
export const DEMO_ADMIN = { username: 'admin', password: 'laifang-demo-admin' } as const;

export interface AdminBootstrap {
  db: Db;
  accounts: AdminAccounts;
  audit: Audit;
  logger: Logger;
}

/**
 * The admins a start leaves: with the real integrations the demo admin is never usable (it is
 * deleted while its password is still the published one); the configured first admin
 * (ADMIN_USERNAME) is created when no admin is left, and said when it is not; simulated with
 * the demo data and nothing configured, the demo admin is created into an empty database.
 */
export async function bootstrapAdmins(
  b: AdminBootstrap,
  o: { simulated: boolean; seedDemo: boolean; firstAdmin: { username: string; password: string } | null },
): Promise<void> {
  const { logger } = b;
  if (!o.simulated && (await removeDemoAdmin(b)))
    logger.error(
      { username: DEMO_ADMIN.username },
      'the demo admin of simulated mode was in this database with its published password: deleted (with the real integrations it must never log in)',
    );
  if (o.firstAdmin) {
    const { username } = o.firstAdmin;
    if (await b.accounts.ensureFirst(o.firstAdmin)) logger.info({ username }, 'created the first admin from ADMIN_USERNAME');
    else if (!(await adminRepo.byUsername(b.db, username)))
      logger.warn(
        { username },
        'ADMIN_USERNAME is not created: the database has admins already (the first admin is made only into none); create it in the admin console or with npm run admin:create',
      );
  } else if (o.simulated && o.seedDemo) {
    if (await b.accounts.ensureFirst(DEMO_ADMIN, 'demo')) logger.info({ username: DEMO_ADMIN.username }, 'created the demo admin (simulated mode)');
  } else if (!o.simulated && (await adminRepo.count(b.db)) === 0) {
    logger.error('no admin can log in: set ADMIN_USERNAME and ADMIN_PASSWORD and restart, or run npm run admin:create');
  }
}

/**
 * Deletes the demo admin if its password is still the published one (a data directory first
 * used by `npm start`, later configured with the real integrations), ending its sessions with
 * it; audited. Replicas starting together: the first deletes, the others find nothing.
 */
async function removeDemoAdmin(b: AdminBootstrap): Promise<boolean> {
  const row = await adminRepo.byUsername(b.db, DEMO_ADMIN.username);
  if (!row || !(await verifyPassword(DEMO_ADMIN.password, row.passwordHash))) return false;
  return b.db.transaction(async (tx) => {
    await adminRepo.lockFirstAdmin(tx);
    const id = await adminRepo.deleteWithHash(tx, row.id, row.passwordHash);
    if (id === null) return false;
    await b.audit.record(tx, {
      actor: { kind: 'system', id: 'config' },
      action: 'admin.delete',
      targetType: 'admin',
      targetId: String(id),
      detail: { username: DEMO_ADMIN.username, reason: 'demo credential with the real integrations' },
    });
    return true;
  });
}
