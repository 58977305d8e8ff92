import { defineConfig } from 'vitest/config';

/**
 * Tiers (LAIFANG_TEST_TIER, set by the npm scripts):
 * - all (default, `npm test`): every test file, on PGlite and, when TEST_DATABASE_URL is set,
 *   on PostgreSQL too.
 * - fast (`npm run test:fast`): the API, unit, admin, visits, adapters and security tests on
 *   PGlite only, in this process: no process started, killed or restarted (so no deployment
 *   recipes and no admin CLI), no browser, no build, no schema fuzzing. CI runs it first so
 *   that a plain mistake fails early.
 * - deploy (`npm run test:deploy`): test/deploy (nginx, systemd, backups, migrations checked).
 * - faults (`npm run test:faults`): test/faults (crashes, outages, replicas), both databases.
 * - e2e (`npm run test:e2e`): test/e2e (Chromium and the served pages), both databases.
 */
const TIERS = {
  all: { include: ['test/**/*.test.ts'], exclude: [] as string[], postgres: true },
  fast: {
    include: ['test/**/*.test.ts'],
    // fuzz: 60 hostile requests per route × every route; worth its time, but not in the first minute.
    exclude: ['test/faults/**', 'test/e2e/**', 'test/build/**', 'test/deploy/**', 'test/admin/admin-cli.test.ts', 'test/security/fuzz.test.ts'],
    postgres: false,
  },
  faults: { include: ['test/faults/**/*.test.ts'], exclude: [] as string[], postgres: true },
  e2e: { include: ['test/e2e/**/*.test.ts'], exclude: [] as string[], postgres: true },
  deploy: { include: ['test/deploy/**/*.test.ts'], exclude: [] as string[], postgres: true },
} as const;
type Tier = keyof typeof TIERS;

const tierName = (process.env.LAIFANG_TEST_TIER ?? 'all') as Tier;
const tier = TIERS[tierName];
if (!tier) throw new Error(`LAIFANG_TEST_TIER=${tierName}: expected one of ${Object.keys(TIERS).join(', ')}`);

const common = {
  include: [...tier.include],
  exclude: ['**/node_modules/**', ...tier.exclude],
  pool: 'forks' as const,
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

// The same suite runs on embedded PGlite and, when TEST_DATABASE_URL is set, on PostgreSQL.
const projects = [{ test: { ...common, name: 'pglite', env: { LAIFANG_TEST_DB: 'pglite' } } }];
if (process.env.TEST_DATABASE_URL && tier.postgres) {
  projects.push({ test: { ...common, name: 'postgres', env: { LAIFANG_TEST_DB: 'pg' } } });
}

export default defineConfig({
  test: {
    // Two cores: more workers only fight over CPU (PGlite is single-threaded WASM).
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts'],
    projects,
  },
});
