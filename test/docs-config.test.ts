import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_TABLE_END, CONFIG_TABLE_START, README, renderConfigTable, withConfigTable } from '../scripts/docs-config.mjs';
import { VARIABLES } from '../src/config/variables.js';

describe("README's configuration table", () => {
  const readme = readFileSync(README, 'utf8');

  it('is what the table of variables generates (npm run docs:config)', () => {
    expect(readme).toContain(CONFIG_TABLE_START);
    expect(readme).toContain(CONFIG_TABLE_END);
    // On failure: run `npm run docs:config` and commit README.md.
    expect(withConfigTable(readme)).toBe(readme);
  });

  it('has one row per variable', () => {
    const table = renderConfigTable();
    for (const name of Object.keys(VARIABLES)) expect(table).toContain(`| \`${name}\` |`);
    expect(table.split('\n').filter((l) => l.startsWith('| `')).length).toBe(Object.keys(VARIABLES).length);
  });

  it('replaces only what lies between the markers', () => {
    const text = `before\n${CONFIG_TABLE_START}\nold\n${CONFIG_TABLE_END}\nafter\n`;
    expect(withConfigTable(text, 'new')).toBe(`before\n${CONFIG_TABLE_START}\nnew\n${CONFIG_TABLE_END}\nafter\n`);
    expect(() => withConfigTable('no markers', 'new')).toThrow(/config-table:start/);
  });
});
