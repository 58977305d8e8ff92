#!/usr/bin/env node
// Writes README.md's configuration table from the table of variables (src/config/variables.ts):
// the lines between CONFIG_TABLE_START and CONFIG_TABLE_END are replaced, nothing else.
//
//   npm run docs:config            (tsx scripts/docs-config.mjs)
//   npm run docs:config -- --check  exits 1 when README.md differs from what the table gives
//
// test/docs-config.test.ts fails when README.md is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { VARIABLE_GROUPS } from '../src/config/variables.ts';

export const CONFIG_TABLE_START = '<!-- config-table:start -->';
export const CONFIG_TABLE_END = '<!-- config-table:end -->';
export const README = fileURLToPath(new URL('../README.md', import.meta.url));

const code = (s) => `\`${s}\``;
const cell = (s) => s.replaceAll('|', '\\|');

/** The values a variable accepts, from its kind. */
function accepts(spec) {
  switch (spec.kind) {
    case 'int':
      return `${spec.auto ? '`auto` or ' : ''}${spec.min}–${spec.max}`;
    case 'bool':
      return '`true` or `false`';
    case 'url':
      return 'http(s) URL';
    case 'secret':
      return spec.minLength ? `text, ≥ ${spec.minLength} characters` : 'text';
    case 'enum':
      return spec.values.map(code).join(' or ');
    case 'database-url':
      return '`postgres://…` or `pglite://…`';
    case 'origins':
      return 'origins, comma-separated';
    case 'proxies':
      return '`false`, or addresses or CIDRs, comma-separated';
    default:
      return 'text';
  }
}

/** Its default as the README shows it. */
function shownDefault(spec) {
  if (spec.shown !== undefined) return spec.shown;
  if (spec.kind === 'int' || spec.kind === 'bool') return String(spec.default);
  return spec.default === undefined ? '—' : code(spec.default);
}

/** The Markdown between the markers: one table per topic. */
export function renderConfigTable(groups = VARIABLE_GROUPS) {
  const out = ['<!-- Generated from src/config/variables.ts by `npm run docs:config`: edit the table there. -->'];
  for (const { title, variables } of groups) {
    out.push('', `**${title}**`, '', '| variable | default | values | meaning |', '|---|---|---|---|');
    for (const [name, spec] of Object.entries(variables)) {
      out.push(`| ${code(name)} | ${cell(shownDefault(spec))} | ${cell(accepts(spec))} | ${cell(spec.meaning)} |`);
    }
  }
  return out.join('\n');
}

/** README text with its table replaced by `table`; throws when the markers are missing. */
export function withConfigTable(readme, table = renderConfigTable()) {
  const start = readme.indexOf(CONFIG_TABLE_START);
  const end = readme.indexOf(CONFIG_TABLE_END);
  if (start === -1 || end === -1 || end < start) throw new Error(`README.md needs ${CONFIG_TABLE_START} … ${CONFIG_TABLE_END} around its configuration table`);
  return `${readme.slice(0, start + CONFIG_TABLE_START.length)}\n${table}\n${readme.slice(end)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const before = readFileSync(README, 'utf8');
  const after = withConfigTable(before);
  if (process.argv.includes('--check')) {
    if (before !== after) {
      console.error('README.md: the configuration table is out of date; run npm run docs:config');
      process.exit(1);
    }
    console.log('README.md: the configuration table is up to date');
  } else if (before !== after) {
    writeFileSync(README, after);
    console.log('README.md: configuration table written');
  } else console.log('README.md: configuration table already up to date');
}
