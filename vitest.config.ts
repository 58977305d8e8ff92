import { defineConfig } from 'vitest/config';

const common = {
  include: ['test/**/*.test.ts'],
  pool: 'forks' as const,
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

// The same suite runs on embedded PGlite and, when TEST_DATABASE_URL is set, on PostgreSQL.
const projects = [{ test: { ...common, name: 'pglite', env: { LAIFANG_TEST_DB: 'pglite' } } }];
if (process.env.TEST_DATABASE_URL) {
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
