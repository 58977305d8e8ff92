import { randomBytes } from 'node:crypto';
import { EnvReader, type Env } from './config/kinds.js';
import {
  environment,
  firstAdmin,
  integrations,
  listenAddress,
  metrics,
  notifySend,
  oneProcessOnly,
  apiDocs,
  productionGuards,
  secretRules,
  storage,
  templateIds,
  webConcurrency,
  workHours,
} from './config/rules.js';
import type { Config } from './config/shape.js';
import { VARIABLES } from './config/variables.js';

export { TEMPLATE_NAMES, type Config, type TemplateName } from './config/shape.js';

export class ConfigError extends Error {
  constructor(problems: string[]) {
    super(
      `Laifang cannot start: the configuration is not valid.\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee README.md "Configuration" (or api-contract.md §7).`,
    );
    this.name = 'ConfigError';
  }
}

/**
 * The configuration, from the environment (src/config/variables.ts says what each variable is,
 * src/config/rules.ts how they go together). Every problem found is listed in one ConfigError.
 */
export function loadConfig(env: Env = process.env): Config {
  const r = new EnvReader(VARIABLES, env);
  const envName = environment(r);
  const { port, host, publicUrl } = listenAddress(r);
  const databaseUrl = r.read('DATABASE_URL');
  const outside = integrations(r);
  const templates = templateIds(r, outside.simulated);
  const files = storage(r);
  const sessionSecret = r.read('SESSION_SECRET') ?? null;
  secretRules(r, envName, outside.simulated, sessionSecret);
  productionGuards(r, envName);
  const oneProcess = oneProcessOnly(databaseUrl, outside.simulated);

  const config: Config = {
    env: envName,
    port,
    host,
    trustProxy: r.read('TRUST_PROXY'),
    apiDocs: apiDocs(r, envName),
    metrics: metrics(r, envName),
    publicUrl,
    databaseUrl,
    sessionSecret,
    sessionTtlSeconds: r.read('SESSION_TTL'),
    applyPerHour: r.read('APPLY_PER_HOUR'),
    visitWindow: { maxHours: r.read('MAX_VISIT_HOURS'), maxDaysAhead: r.read('MAX_DAYS_AHEAD') },
    workHours: workHours(r),
    rateLimitPerMinute: r.read('RATE_LIMIT_PER_MINUTE'),
    bindVerifyPhone: r.read('BIND_VERIFY_PHONE'),
    logLevel: r.read('LOG_LEVEL') ?? (envName === 'test' ? 'silent' : 'info'),
    ...outside,
    templates,
    firstAdmin: firstAdmin(r),
    storage: files,
    notify: {
      send: notifySend(r, oneProcess),
      yieldAt: r.read('NOTIFY_YIELD_AT'),
      yieldRate: r.read('NOTIFY_YIELD_RATE'),
      pollingIntervalSeconds: Math.max(0.5, r.read('NOTIFY_POLL_MS') / 1000),
      retryLimit: r.read('NOTIFY_RETRY_LIMIT'),
      retryDelaySeconds: r.read('NOTIFY_RETRY_DELAY_S'),
      maxRetryDelaySeconds: r.read('NOTIFY_RETRY_MAX_DELAY_S'),
      batchSize: r.read('NOTIFY_BATCH_SIZE'),
      expireInSeconds: r.read('NOTIFY_EXPIRE_S'),
      maintenanceIntervalSeconds: r.read('NOTIFY_MAINTENANCE_S'),
    },
    koalaCacheSeconds: r.read('KOALA_CACHE_SECONDS'),
    koalaStaffRefreshSeconds: r.read('KOALA_STAFF_REFRESH_SECONDS'),
    visits: { signinLeadMinutes: r.read('SIGNIN_LEAD_MINUTES'), sweepSeconds: r.read('VISIT_SWEEP_S') },
    corsOrigins: r.read('CORS_ORIGINS'),
    smsCaps: {
      perPhonePerHour: r.read('SMS_PER_PHONE_PER_HOUR'),
      perPhonePerDay: r.read('SMS_PER_PHONE_PER_DAY'),
      globalPerHour: r.read('SMS_GLOBAL_PER_HOUR'),
    },
    smsCodes: {
      phonesPerCallerPerHour: r.read('SMS_CODE_PHONES_PER_HOUR'),
      phonesPerAddressPerHour: r.read('SMS_CODE_PHONES_PER_ADDRESS_PER_HOUR'),
      globalSharePercent: r.read('SMS_CODE_SHARE_PERCENT'),
    },
    hostMisses: { perCallerPerHour: r.read('HOST_MISSES_PER_HOUR'), perAddressPerHour: r.read('HOST_MISSES_PER_ADDRESS_PER_HOUR') },
    retention: { days: r.read('RETENTION_DAYS'), sweepIntervalSeconds: r.read('RETENTION_SWEEP_S'), batchSize: r.read('RETENTION_BATCH') },
    ledgerExport: { keepHours: r.read('LEDGER_EXPORT_KEEP_H'), leaseSeconds: r.read('LEDGER_EXPORT_LEASE_S'), batchSize: r.read('LEDGER_EXPORT_BATCH') },
    upkeepSeconds: r.read('UPKEEP_INTERVAL_S'),
    webConcurrency: webConcurrency(r, oneProcess),
    recordsCache: { maxBytes: r.read('RECORDS_CACHE_MB') * 1024 * 1024, ttlSeconds: r.read('RECORDS_CACHE_SECONDS') },
    warnings: r.warnings,
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/** A fresh random secret, for data directories that have none yet (never used in production). */
export function randomSecret(): string {
  return randomBytes(32).toString('hex');
}
