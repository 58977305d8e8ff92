import type { Database } from '../db/client.js';
import type { Audit } from '../modules/audit/service.js';
import { createLedgerExports, type LedgerExports } from '../modules/ledger/service.js';
import { startLedgerWorker } from '../modules/ledger/worker.js';
import { createStats, type StatsService } from '../modules/stats/service.js';
import type { Step } from './steps.js';

export interface Ledger {
  exports: LedgerExports;
  stats: StatsService;
}

/** The visit-ledger exports and their worker (one export at a time per process), and the statistics. */
export function ledgerStep(step: Step, deps: { database: Database; audit: Audit }): Ledger {
  const { config, logger, now } = step;
  const { db } = deps.database;
  const o = config.ledgerExport;
  const worker = startLedgerWorker({
    db,
    audit: deps.audit,
    logger,
    now,
    leaseMs: o.leaseSeconds * 1000,
    batchSize: o.batchSize,
    pollMs: 2000,
    giveWay: deps.database.kind === 'pglite' ? 1 : 0.25,
  });
  step.closers.add(() => worker.stop());
  const exports = createLedgerExports({ db, audit: deps.audit, now, keepSeconds: o.keepHours * 3600, wake: () => worker.wake() });
  return { exports, stats: createStats({ db, now }) };
}
