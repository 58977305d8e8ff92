import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'coverage/', 'drizzle/', 'src/db/migrations/', 'web/dist/', 'dist/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Configuration is read in one place (src/config.ts); everything else gets it passed in.
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read the environment only in src/config.ts.' }],
      'no-console': 'error',
    },
  },
  // Tests read JSON answers loosely; the assertions are the type checks there.
  { files: ['test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  {
    files: ['src/config.ts', 'test/**', 'bench/**', 'vitest.config.ts', 'drizzle.config.ts', 'src/main.ts', 'src/db/migrate-cli.ts', 'scripts/**'],
    rules: { 'no-restricted-properties': 'off', 'no-console': 'off' },
  },
);
