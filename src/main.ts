import 'dotenv/config';
import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './log.js';
import { listenEarly } from './boot-server.js';
import { isDatabaseUnavailable } from './db/client.js';
import { createRuntime, DEMO_ADMIN, type Runtime } from './runtime.js';
import { DEMO_WECHAT_USERS, type Simulators } from './simulators.js';
import { normalizePhone } from './phone.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { H5_DIST_DIR } from './http/h5-pages.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (config.webConcurrency > 1 && cluster.isPrimary) {
    runPrimary(config);
    return;
  }
  // A worker of several listens only once ready: until then the others take its share. A lone
  // process answers /healthz (and 503 elsewhere) while it opens its database.
  const boot = cluster.isWorker ? null : await listenEarly(config.port, config.host);
  const runtime = await createRuntime(config, { seedDemoBindings: true, ...(boot ? { serverFactory: boot.factory } : {}) });
  toleratePgBossRejections(runtime);
  stopOnSignals(runtime);

  if (!boot) {
    await runtime.app.listen({ port: config.port, host: config.host });
    runtime.logger.info({ worker: cluster.worker?.id }, 'worker ready');
    return;
  }
  boot.activate();
  const bound = boot.server.address();
  const address = typeof bound === 'object' && bound ? `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : String(bound);
  console.log(banner(config, runtime, address).join('\n'));
}

/** A configuration that is not valid ends the process with the message that says why. */
function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

/**
 * pg-boss 10.4.2 does not await the query that completes (or fails) a finished batch
 * (manager.js, work → onFetch). While the database is down that rejection has no handler, and
 * Node would end the process on it. A lost completion is harmless: the job expires and is
 * retried, and its notification is no longer pending, so nothing is sent again. Exactly those
 * are logged; any other unhandled rejection still ends the process, as by default.
 */
function toleratePgBossRejections(runtime: Runtime): void {
  process.on('unhandledRejection', (reason) => {
    if (!isDatabaseUnavailable(reason)) throw reason;
    runtime.logger.warn({ detail: reason instanceof Error ? reason.message : String(reason) }, 'database unavailable for a background query');
  });
}

/** SIGINT / SIGTERM: close everything (once), then exit. */
function stopOnSignals(runtime: Runtime): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    runtime.logger.info({ signal }, 'shutting down');
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** What a lone process prints once it answers: where everything is. */
function banner(config: Config, runtime: Runtime, address: string): string[] {
  const base = config.publicUrl;
  const built = (file: string) => (existsSync(join(H5_DIST_DIR, file)) ? '' : '   (not built: run npm run build:web)');
  const lines = [
    '',
    `Laifang (来访) is listening on ${address}`,
    `  H5 pages (open on a phone, or a browser at 375 px): ${base}/h5/${built('index.html')}`,
    `  Admin console: ${base}/admin/${built(join('admin', 'admin.html'))}`,
    config.apiDocs ? `  API docs (OpenAPI / Swagger UI): ${base}/docs` : '  API docs: off (API_DOCS=true serves them at /docs)',
    `  Health: ${base}/healthz   Ready: ${base}/readyz`,
    `  Database: ${config.databaseUrl.startsWith('pglite://') ? config.databaseUrl : 'PostgreSQL'}`,
  ];
  if (runtime.simulators) lines.push(...simulatedBanner(config, runtime.simulators));
  return lines;
}

/** Simulated mode: the simulators, the demo staff and users, and how to try it. */
function simulatedBanner(config: Config, sims: Simulators): string[] {
  const base = config.publicUrl;
  return [
    '',
    'SIMULATED mode: Koala, the WeChat cloud service, WeChat OAuth and Aliyun SMS are simulated in this process.',
    `  Koala simulator:        ${sims.koala.url}   (subjects: ${sims.koala.url}/__sim/koala/subjects)`,
    `  WeChat cloud simulator: ${sims.cloud.url}   (messages: ${sims.cloud.url}/__sim/wechat/messages)`,
    `  Aliyun SMS simulator:   ${sims.sms.url}   (messages: ${sims.sms.url}/__sim/sms/messages)`,
    `  WeChat OAuth simulator: ${sims.oauth.url}`,
    '',
    'Demo staff in Koala (name / phone):',
    ...sims.koala
      .subjects()
      .filter((s) => s.subject_type === 0)
      .map((s) => `  ${s.name}  ${normalizePhone(s.phone) ?? ''}  ${s.department ?? ''}`),
    '',
    'Demo WeChat users, already bound (any other weixinUserId starts unbound):',
    ...DEMO_WECHAT_USERS.map((u) => `  ${u.weixinUserId.padEnd(22)} ${u.phone}  ${u.who}`),
    '',
    'Try it:',
    `  curl -s -X POST ${base}/v1/session/dev -H 'content-type: application/json' -d '{"weixinUserId":"demo-staff-zhangwei"}'`,
    `  curl -s ${base}/v1/subject/binding -H 'authorization: Bearer <token>'`,
    '',
    ...(config.firstAdmin
      ? []
      : [
          `Demo admin (simulated mode only; created when the database has no admin yet): ${DEMO_ADMIN.username} / ${DEMO_ADMIN.password}`,
          `  Admin console: ${base}/admin/   (log in as ${DEMO_ADMIN.username} / ${DEMO_ADMIN.password})`,
          `  curl -s -X POST ${base}/v1/admin/session -H 'content-type: application/json' -d '{"username":"${DEMO_ADMIN.username}","password":"${DEMO_ADMIN.password}"}'`,
        ]),
  ];
}

/**
 * WEB_CONCURRENCY > 1: this process only starts, restarts and stops the workers; they share the
 * port (the primary hands out connections) and are replicas like servers of their own: the
 * database coordinates them (advisory locks, SKIP LOCKED jobs, NOTIFY for caches).
 */
function runPrimary(config: Config): void {
  const logger = createLogger(config.logLevel);
  const n = config.webConcurrency;
  let stopping = false;
  let announced = false;
  const crashes: number[] = [];
  for (let i = 0; i < n; i++) cluster.fork();
  cluster.on('listening', (_worker, address) => {
    const listening = Object.values(cluster.workers ?? {}).filter((w) => w?.isConnected()).length;
    if (announced || listening < n) return;
    announced = true;
    const host = address.address && address.address !== '0.0.0.0' ? address.address : config.host;
    console.log(
      `\nLaifang (来访) is listening on http://${host.includes(':') ? `[${host}]` : host}:${address.port} with ${n} worker processes (WEB_CONCURRENCY)\n  ${config.apiDocs ? `API docs: ${config.publicUrl}/docs   ` : ''}Ready: ${config.publicUrl}/readyz\n`,
    );
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    // A worker that keeps dying (a bad configuration, the database gone) is restarted ever more slowly.
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && crashes[0]! < now - 60_000) crashes.shift();
    const delayMs = Math.min(30_000, 250 * 2 ** (crashes.length - 1));
    logger.error({ pid: worker.process.pid, code, signal, restartInMs: delayMs }, 'worker exited; starting another');
    setTimeout(() => {
      if (!stopping) cluster.fork();
    }, delayMs).unref();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down the workers');
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit(0);
    for (const w of workers) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(1), 60_000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error('Laifang failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
