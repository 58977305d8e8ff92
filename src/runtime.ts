import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from './app.js';
import type { Config } from './config.js';
import type { Database } from './db/client.js';
import type { Queue } from './db/queue.js';
import type { WebLoad } from './http/load.js';
import { createMetrics } from './http/metrics.js';
import type { KoalaSync } from './modules/visits/koala-sync.js';
import { createLogger, type Logger } from './log.js';
import type { PageCache } from './modules/applications/page-cache.js';
import type { AdminAccounts } from './modules/admin/service.js';
import type { Devices } from './modules/devices/service.js';
import type { NotifyWorker } from './modules/notifications/worker.js';
import type { RetentionSweeper } from './modules/privacy/retention.js';
import { adminStep } from './runtime/admin.js';
import { backgroundStep } from './runtime/background.js';
import { ledgerStep } from './runtime/ledger.js';
import { openDatabaseStep } from './runtime/database.js';
import { portsStep, simulatorsStep } from './runtime/ports.js';
import { frontDeskStep, servicesStep } from './runtime/services.js';
import { Closers, type Step } from './runtime/steps.js';
import type { Simulators } from './simulators.js';

export { DEMO_ADMIN } from './runtime/admin.js';

export interface RuntimeOptions {
  logger?: Logger;
  /** An already opened (e.g. cloned test) database; otherwise config.databaseUrl is opened. */
  database?: Database;
  now?: () => number;
  /** Simulated mode: seed demo WeChat bindings (npm start does; tests start empty). */
  seedDemoBindings?: boolean;
  /** See AppDeps.serverFactory. */
  serverFactory?: AppDeps['serverFactory'];
}

export interface Runtime {
  app: FastifyInstance;
  config: Config;
  database: Database;
  logger: Logger;
  simulators: Simulators | null;
  queue: Queue;
  /** The notification sender, or null with NOTIFY_SEND=false (another process sends). */
  worker: NotifyWorker | null;
  /** Requests a second this process answers (the worker gives way while there are many). */
  load: WebLoad;
  /** Front-desk devices and admin accounts (tests register devices and admins through these). */
  devices: Devices;
  admins: AdminAccounts;
  /** The record-list page cache (tests and benchmarks read its counters). */
  pages: PageCache;
  /** The Koala visitor worker (tests wait on its finished job attempts). */
  koalaSync: KoalaSync;
  /** The retention sweep (tests run one and wait for it). */
  retention: RetentionSweeper;
  close(): Promise<void>;
}

/**
 * Builds everything from the configuration, in order: database (and the server secret) →
 * simulators (simulated mode) → ports → queue and background workers → services → front desk →
 * admin → the app. Each step registers how to undo what it started; close() (or a failed start)
 * undoes them newest first.
 */
export async function createRuntime(config: Config, opts: RuntimeOptions = {}): Promise<Runtime> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const closers = new Closers(logger);
  // Settings the configuration allows but that weaken the service: said at every start.
  for (const warning of config.warnings) logger.warn({ config: true }, warning);
  const metrics = config.metrics.enabled ? createMetrics() : null;
  const step: Step = { config, logger, now: opts.now ?? Date.now, closers, metrics };
  try {
    const { database, secret } = await openDatabaseStep(step, opts.database);
    const simulators = await simulatorsStep(step, opts.seedDemoBindings ?? false);
    const ports = await portsStep(step, simulators, database, secret);
    const { queue, load, worker, retention } = await backgroundStep(step, database, ports, secret);
    const services = await servicesStep(step, database, ports, secret);
    const { visits, koalaSync, life } = await frontDeskStep(step, { database, queue, ports, audit: services.audit, secret, pages: services.pages });
    const adminApi = await adminStep(step, { database, ports, audit: services.audit, secret, seedDemo: opts.seedDemoBindings ?? false });
    const ledger = ledgerStep(step, { database, audit: services.audit });

    let ready = false;
    const app = await buildApp({
      tokens: services.tokens,
      redeemedCodes: services.redeemedCodes,
      revocations: services.revocations,
      sessionEnder: services.sessionEnder,
      identity: services.identity,
      bindings: services.bindings,
      smsCodes: services.smsCodes,
      applications: services.applications,
      purposes: services.purposes,
      load,
      config,
      logger,
      database,
      oauth: ports.oauth,
      storage: ports.storage,
      visits,
      life,
      now: step.now,
      isReady: () => ready,
      serverFactory: opts.serverFactory,
      adminApi,
      metrics,
      ledger,
    });
    closers.add(() => app.close());
    await app.ready();
    ready = true;

    const { pages } = services;
    return {
      app,
      config,
      database,
      logger,
      simulators,
      queue,
      worker,
      load,
      devices: adminApi.devices,
      admins: adminApi.accounts,
      pages,
      koalaSync,
      retention,
      close: () => closers.close(),
    };
  } catch (err) {
    await closers.close();
    throw err;
  }
}
