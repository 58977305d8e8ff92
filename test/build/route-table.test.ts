import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectedContributing, withTable } from '../../scripts/route-table.mjs';
import { testDbKind } from '../helpers/harness.js';

/**
 * CONTRIBUTING.md's "Where each route lives" is generated from the routes the app serves and
 * the module file declaring each (`npm run docs:routes`): a route added, moved or removed
 * without a regeneration fails here. Not about the database kind: PGlite project only.
 */
describe.runIf(testDbKind() === 'pglite')('CONTRIBUTING.md route table (npm run docs:routes)', () => {
  it('lists every served route with its file, as today', { timeout: 180_000 }, async () => {
    const committed = readFileSync(new URL('../../CONTRIBUTING.md', import.meta.url), 'utf8');
    expect(committed, 'the route table is stale: run `npm run docs:routes`').toBe(await expectedContributing());
    expect(committed).toContain('| `POST /v1/subject` | `src/modules/applications/routes.ts` |');
  });

  it('replaces only what stands between the markers', () => {
    const md = 'a\n<!-- route-table:start -->\nold\n<!-- route-table:end -->\nb\n';
    expect(withTable(md, 'new')).toBe('a\n<!-- route-table:start -->\nnew\n<!-- route-table:end -->\nb\n');
    expect(() => withTable('no markers', 'x')).toThrow('markers');
  });
});
