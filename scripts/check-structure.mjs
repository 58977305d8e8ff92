#!/usr/bin/env node
// The shape of src/, checked (npm run check, and so CI):
// - layers: a file imports only from its own layer or the ones below it (see LAYERS);
// - a feature's operations know nothing of HTTP: under src/modules/, only routes*.ts and
//   schemas.ts import src/http/;
// - no cycle between folders (src/modules/<feature>, src/db, src/adapters/<system>, src/http, …);
// - no file over MAX_FILE_LINES lines and no function over MAX_FUNCTION_LINES lines, outside the
//   simulators (protocol fakes, written as one server each) and the generated migrations.
// Prints every violation and exits 1 when there is any.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const MAX_FILE_LINES = 300;
const MAX_FUNCTION_LINES = 80;

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');

/**
 * From the bottom up. `kernel`: the error type, phone numbers, logging, configuration, retry
 * timing — no feature, no I/O of its own. `platform`: the database and the outside systems'
 * ports, clients and simulators. `http`: the transport kernel (envelope, auth hooks, error
 * mapping), which declares the narrow interfaces it needs and knows no feature. `modules`: the
 * features. `root`: the composition root that wires everything by hand.
 */
const LAYERS = ['kernel', 'platform', 'http', 'modules', 'root'];

function layerOf(file) {
  const rel = relative(src, file).replaceAll('\\', '/');
  if (rel.startsWith('db/') || rel.startsWith('adapters/')) return 'platform';
  if (rel.startsWith('http/')) return 'http';
  if (rel.startsWith('modules/')) return 'modules';
  if (rel.startsWith('runtime/')) return 'root';
  if (['app.ts', 'runtime.ts', 'main.ts', 'boot-server.ts', 'admin-cli.ts', 'simulators.ts'].includes(rel)) return 'root';
  if (!rel.includes('/') || rel.startsWith('config/')) return 'kernel';
  return null;
}

/** The folder a file counts in for cycles: a feature, an outside system, or a top folder. */
function unitOf(file) {
  const parts = relative(src, file).replaceAll('\\', '/').split('/');
  if (parts.length === 1) return `src/${parts[0]}`;
  if ((parts[0] === 'modules' || parts[0] === 'adapters') && parts.length > 2) return `${parts[0]}/${parts[1]}`;
  return parts[0];
}

const exempt = (rel) => /simulator\.ts$|demo-data\.ts$/.test(rel) || rel.startsWith('db/migrations/');

function listFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else if (path.endsWith('.ts')) out.push(path);
  }
  return out;
}

const problems = [];
const edges = new Map();
const files = listFiles(src);

for (const file of files) {
  const rel = relative(src, file).replaceAll('\\', '/');
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const layer = layerOf(file);
  if (!layer) problems.push(`src/${rel}: not in any layer (put it in one of the folders scripts/check-structure.mjs knows)`);

  for (const stmt of sf.statements) {
    const spec =
      (ts.isImportDeclaration(stmt) || ts.isExportDeclaration(stmt)) && stmt.moduleSpecifier && ts.isStringLiteral(stmt.moduleSpecifier)
        ? stmt.moduleSpecifier.text
        : null;
    if (!spec || !spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
    if (!target.startsWith(src)) continue;
    const targetLayer = layerOf(target);
    if (layer && targetLayer && LAYERS.indexOf(targetLayer) > LAYERS.indexOf(layer)) {
      problems.push(`src/${rel}: imports ${relative(root, target)} (${targetLayer}), a layer above its own (${layer})`);
    }
    if (rel.startsWith('modules/') && targetLayer === 'http' && !/routes[\w-]*\.ts$|\/schemas\.ts$/.test(rel)) {
      problems.push(`src/${rel}: imports ${relative(root, target)}; only a module's routes*.ts and schemas.ts know HTTP`);
    }
    const from = unitOf(file);
    const to = unitOf(target);
    if (from !== to) {
      if (!edges.has(from)) edges.set(from, new Map());
      if (!edges.get(from).has(to)) edges.get(from).set(to, `src/${rel}`);
    }
  }

  if (exempt(rel)) continue;
  const lines = text.split('\n').length;
  if (lines > MAX_FILE_LINES) problems.push(`src/${rel}: ${lines} lines (at most ${MAX_FILE_LINES})`);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = sf.getLineAndCharacterOfPosition(node.end).line;
      if (end - start + 1 > MAX_FUNCTION_LINES) {
        const parent = node.parent;
        const name =
          node.name?.getText() ?? (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) ? parent.name.getText() : '(anonymous)');
        problems.push(`src/${rel}:${start + 1}: function ${name} has ${end - start + 1} lines (at most ${MAX_FUNCTION_LINES})`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}

// Folder-level cycles: strongly connected components of the folder graph (Tarjan).
let index = 0;
const stack = [];
const info = new Map();
function strongConnect(v) {
  info.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!info.has(w)) {
      strongConnect(w);
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
    } else if (info.get(w).onStack) info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
  }
  if (info.get(v).low === info.get(v).index) {
    const scc = [];
    let w;
    do {
      w = stack.pop();
      info.get(w).onStack = false;
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) {
      const why = scc.flatMap((a) => scc.filter((b) => edges.get(a)?.has(b)).map((b) => `${edges.get(a).get(b)} → ${b}`));
      problems.push(`folders import each other in a cycle: ${scc.join(', ')} (${why.join('; ')})`);
    }
  }
}
for (const v of edges.keys()) if (!info.has(v)) strongConnect(v);

if (problems.length > 0) {
  console.error(`check-structure: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(`check-structure: ${files.length} files in src/, layers and sizes hold, no folder cycle.`);
