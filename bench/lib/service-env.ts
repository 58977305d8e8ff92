import { integrationEnv } from '../../src/simulators.js';
import type { SimEndpoints } from './child.js';

/**
 * The service's configuration in every benchmark: production mode wired to the simulators, no
 * per-address rate limit, logs off, and SMS caps far above what a run sends. The hourly limit on
 * applications is the product's (APPLY_PER_HOUR, 20): the apply runs take enough callers in turn
 * that none exceeds it (bench/run.ts). The in-process
 * service (bench/lib/child.ts) and the clustered one (`src/main.ts` with WEB_CONCURRENCY) use
 * the same.
 */
export function benchServiceEnv(o: {
  databaseUrl: string;
  sims: SimEndpoints;
  storageDir: string;
  sessionSecret: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: o.databaseUrl,
    SESSION_SECRET: o.sessionSecret,
    PUBLIC_URL: 'http://laifang.bench',
    ...integrationEnv(o.sims),
    STORAGE_LOCAL_DIR: o.storageDir,
    RATE_LIMIT_PER_MINUTE: '0',
    LOG_LEVEL: 'silent',
    // The generated records span a year: the retention sweep would delete most of them.
    RETENTION_DAYS: '36500',
    // Dispatch and apply runs send thousands of SMS an hour to made-up numbers (the SMS caps).
    SMS_GLOBAL_PER_HOUR: '10000000',
    SMS_PER_PHONE_PER_HOUR: '100000',
    SMS_PER_PHONE_PER_DAY: '1000000',
    ...o.extra,
  };
}
