#!/usr/bin/env node
// `npm run docs:routes` — writes CONTRIBUTING.md's "Where each route lives" table from the routes
// the app serves (its OpenAPI document) and the module file that declares each one;
// `--check` fails when the table in CONTRIBUTING.md differs (test/docs-routes.test.ts runs it).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOC = join(ROOT, 'CONTRIBUTING.md');
const START = '<!-- route-table:start -->';
const END = '<!-- route-table:end -->';

function routeFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...routeFiles(path));
    else if (/routes[\w-]*\.ts$/.test(entry)) out.push(path);
  }
  return out;
}

/** The route files that write this path as a string literal (`/v1/auth/{id}` is written `/v1/auth/:id`). */
function filesDeclaring(path, sources) {
  const literal = path.replace(/\{(\w+)\}/g, ':$1');
  return sources.filter((s) => s.text.includes(`'${literal}'`)).map((s) => s.file);
}

/** Every served route (method, path, summary) with the file that declares it, as Markdown rows. */
export function renderRouteTable(doc) {
  const sources = routeFiles(join(ROOT, 'src', 'modules')).map((file) => ({ file: relative(ROOT, file), text: readFileSync(file, 'utf8') }));
  const rows = [];
  for (const [rawPath, ops] of Object.entries(doc.paths ?? {})) {
    const [path, query] = rawPath.split('?');
    for (const [method, op] of Object.entries(ops)) {
      let files = filesDeclaring(path, sources);
      // One path, two routes told apart by the query (the admin listing, `?type=web`).
      if (files.length > 1)
        files = files.filter((f) =>
          query ? sources.find((s) => s.file === f).text.includes(query) : !sources.find((s) => s.file === f).text.includes('recordsView'),
        );
      if (files.length !== 1) throw new Error(`${method.toUpperCase()} ${rawPath}: declared in ${files.length} route files (${files.join(', ')})`);
      rows.push({ route: `${method.toUpperCase()} ${rawPath}`, file: files[0], summary: (op.summary ?? '').replace(/\|/g, '\\|') });
    }
  }
  rows.sort((a, b) => a.file.localeCompare(b.file) || a.route.localeCompare(b.route));
  return ['| route | file | what |', '|---|---|---|', ...rows.map((r) => `| \`${r.route}\` | \`${r.file}\` | ${r.summary} |`)].join('\n');
}

/** CONTRIBUTING.md with its table replaced. */
export function withTable(markdown, table) {
  const a = markdown.indexOf(START);
  const b = markdown.indexOf(END);
  if (a < 0 || b < a) throw new Error(`CONTRIBUTING.md has no ${START} … ${END} markers`);
  return `${markdown.slice(0, a + START.length)}\n${table}\n${markdown.slice(b)}`;
}

export async function expectedContributing() {
  const { servedOpenApi } = await import('./gen-api-types.mjs');
  return withTable(readFileSync(DOC, 'utf8'), renderRouteTable(await servedOpenApi()));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { register } = await import('tsx/esm/api');
  register();
  const expected = await expectedContributing();
  if (process.argv.includes('--check')) {
    if (expected !== readFileSync(DOC, 'utf8')) {
      console.error('CONTRIBUTING.md: the route table is out of date; run npm run docs:routes');
      process.exit(1);
    }
    console.log('CONTRIBUTING.md: the route table is up to date.');
  } else {
    writeFileSync(DOC, expected);
    console.log('CONTRIBUTING.md: route table written.');
  }
}
