#!/usr/bin/env node
// `npm run gen:api`: writes web/src/api-types.ts, the pages' types of what the API answers (and
// of the bodies they send), from the OpenAPI document the service serves at /docs/json. The
// app is built in this process as the tests build it (simulated integrations, PGlite in
// memory), its document read with app.swagger(), and the runtime closed again.
// test/build/api-types.test.ts regenerates the file and fails when it differs: a change of a
// route's schema is followed by `npm run gen:api`.
//
// The converter is small on purpose: it knows the JSON Schema that TypeBox and @fastify/swagger
// write (object, array, string, integer/number, boolean, null, nullable, anyOf/oneOf/allOf,
// const/enum, required vs optional, additionalProperties) and fails on anything else.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const OUT_FILE = join(ROOT, 'web', 'src', 'api-types.ts');

/**
 * The types the pages use, each named once and read from one or more places of the document:
 * `<METHOD> <path> <where>`, where is `data` (the envelope's data), `data[]` (an item of it),
 * `page` (the envelope's page) or `body` (the JSON request body). Every place of one type must
 * give the same schema. A sub-schema equal to a named type's schema is written as its name.
 */
export const API_TYPES = [
  // The phone pages (web/src).
  { name: 'H5Config', from: ['GET /v1/h5/config data'] },
  { name: 'Session', from: ['POST /v1/session data', 'POST /v1/session/dev data'] },
  { name: 'DemoUser', from: ['GET /v1/session/dev/users data[]'] },
  { name: 'WhoAmI', from: ['GET /v1/wechat/is_binding data'] },
  { name: 'StaffBindRequest', from: ['POST /v1/subject/binding body'] },
  { name: 'VisitorBindRequest', from: ['POST /v1/visitor/binding body'] },
  { name: 'Purpose', from: ['GET /v1/subject/purpose data[]'] },
  { name: 'ApplyRequest', from: ['POST /v1/subject body'] },
  {
    name: 'VisitRecord',
    from: ['GET /v1/visit/records data[]', 'GET /v1/auth/records data[]', 'POST /v1/subject data', 'PUT /v1/auth/{id} data'],
  },
  { name: 'Companion', from: ['GET /v1/visit/records data[].retinues[]'] },
  { name: 'LinkedPass', from: ['GET /v1/visit/pass/{code} data'] },
  { name: 'Page', from: ['GET /v1/visit/records page', 'GET /v1/auth/records page', 'GET /v1/visit/records?type=web page', 'GET /v1/audit page'] },
  // The admin console (web/src/admin).
  { name: 'AdminSession', from: ['POST /v1/admin/session data', 'PUT /v1/admin/password data'] },
  { name: 'AdminRecord', from: ['GET /v1/visit/records?type=web data[]'] },
  { name: 'Device', from: ['GET /v1/devices data[]'] },
  { name: 'DeviceKind', from: ['GET /v1/devices data[].kind', 'POST /v1/devices body.kind'] },
  { name: 'NewDevice', from: ['POST /v1/devices data'] },
  { name: 'NewDeviceRequest', from: ['POST /v1/devices body'] },
  { name: 'ServerSettings', from: ['GET /v1/config/servers data', 'PUT /v1/config/servers data'] },
  { name: 'TemplateSettings', from: ['GET /v1/config/templates data', 'PUT /v1/config/templates data'] },
  { name: 'TemplateSetting', from: ['GET /v1/config/templates data.verification_code'] },
  { name: 'AuditEntry', from: ['GET /v1/audit data[]'] },
  { name: 'PrivacyExport', from: ['GET /v1/privacy/export data'] },
  { name: 'PrivacyErasure', from: ['POST /v1/privacy/erase data'] },
];

/** The OpenAPI document of the app built in this process (the one /docs/json serves). */
export async function servedOpenApi() {
  // TypeScript sources: run by tsx (npm run gen:api registers it) or by Vitest (the test).
  const [{ loadConfig }, { createRuntime }] = await Promise.all([import('../src/config.ts'), import('../src/runtime.ts')]);
  const storage = mkdtempSync(join(tmpdir(), 'laifang-gen-api-'));
  try {
    const runtime = await createRuntime(
      // Nothing of the caller's environment: the document is the same wherever it is generated.
      loadConfig({
        NODE_ENV: 'test',
        DATABASE_URL: 'pglite://memory',
        LOG_LEVEL: 'silent',
        RATE_LIMIT_PER_MINUTE: '0',
        STORAGE_LOCAL_DIR: storage,
      }),
    );
    try {
      return runtime.app.swagger();
    } finally {
      await runtime.close();
    }
  } finally {
    rmSync(storage, { recursive: true, force: true });
  }
}

/** The schema at `<METHOD> <path> <where>` of the document. */
export function schemaAt(doc, place) {
  const [method, path, where, ...rest] = place.split(' ');
  if (!method || !path || !where || rest.length) throw new Error(`"${place}": expected "<METHOD> <path> <where>"`);
  const op = doc.paths?.[path]?.[method.toLowerCase()];
  if (!op) throw new Error(`${method} ${path}: no such route in the OpenAPI document`);
  const [first = '', ...steps] = where.split('.');
  let schema;
  const root = first.replace(/\[\]$/, '');
  if (root === 'body') schema = op.requestBody?.content?.['application/json']?.schema;
  else schema = op.responses?.['200']?.content?.['application/json']?.schema?.properties?.[root];
  if (!schema) throw new Error(`${method} ${path}: no ${root === 'body' ? 'JSON request body' : `"${root}" in the 200 answer`}`);
  for (const step of [first.endsWith('[]') ? '[]' : null, ...steps.flatMap((s) => [s.replace(/\[\]$/, ''), s.endsWith('[]') ? '[]' : null])]) {
    if (step === null) continue;
    schema = step === '[]' ? schema.items : schema.properties?.[step];
    if (!schema) throw new Error(`${place}: nothing at "${step}"`);
  }
  return schema;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const KNOWN = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'anyOf',
  'oneOf',
  'allOf',
  'enum',
  'const',
  'nullable',
  'description',
  // Constraints: not types.
  'title',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
  'uniqueItems',
  'pattern',
  'format',
  'default',
  'examples',
  'example',
]);

const comment = (text, indent) => {
  const lines = String(text).replace(/\*\//g, '*\\/').split('\n');
  return lines.length === 1 ? `${indent}/** ${lines[0]} */\n` : `${indent}/**\n${lines.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */\n`;
};

/** JSON with sorted keys: equal schemas, equal text. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/**
 * A TypeScript type for a JSON Schema. `named` maps canonical schemas to type names: such a
 * sub-schema is written as the name.
 */
export function tsType(schema, named = new Map(), indent = '', where = 'schema') {
  return members(schema, named, indent, where).join(' | ');
}

/** The members of the union a schema is (one for most), without repeats. */
function members(schema, named, indent, where) {
  if (schema === true || schema === undefined) return ['unknown'];
  if (schema === false) return ['never'];
  const name = named.get(canonical(schema));
  if (name) return [name];
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) throw new Error(`${where}: cannot convert "${key}" (extend scripts/gen-api-types.mjs)`);
  const out = plainMembers(schema, named, indent, where);
  if (schema.nullable && !out.includes('unknown')) out.push('null');
  return [...new Set(out)];
}

function literal(value, where) {
  if (typeof value === 'string') return `'${value.replace(/[\\']/g, '\\$&')}'`;
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`${where}: cannot write ${JSON.stringify(value)} as a literal type`);
}

function plainMembers(schema, named, indent, where) {
  if ('const' in schema) return [literal(schema.const, where)];
  if (schema.enum) return schema.enum.map((v) => literal(v, where));
  const anyOf = schema.anyOf ?? schema.oneOf;
  if (anyOf) return anyOf.flatMap((s, i) => members(s, named, indent, `${where}.anyOf[${i}]`));
  if (schema.allOf) return [schema.allOf.map((s, i) => grouped(members(s, named, indent, `${where}.allOf[${i}]`))).join(' & ')];
  if (Array.isArray(schema.type)) return schema.type.flatMap((t) => plainMembers({ ...schema, type: t }, named, indent, where));
  switch (schema.type) {
    case 'string':
      return ['string'];
    case 'integer':
    case 'number':
      return ['number'];
    case 'boolean':
      return ['boolean'];
    case 'null':
      return ['null'];
    case 'array': {
      const items = members(schema.items, named, indent, `${where}[]`);
      return [items.length === 1 && /^[A-Za-z0-9_$.]+$/.test(items[0]) ? `${items[0]}[]` : `Array<${items.join(' | ')}>`];
    }
    case 'object':
      return [objectType(schema, named, indent, where)];
    case undefined:
      return schema.properties ? [objectType(schema, named, indent, where)] : ['unknown'];
    default:
      throw new Error(`${where}: unknown type "${schema.type}"`);
  }
}

const grouped = (parts) => (parts.length > 1 ? `(${parts.join(' | ')})` : (parts[0] ?? 'never'));

/** An object with properties, as one literal type (an interface when it is a named type). */
const isPlainObject = (schema) =>
  (schema.type === 'object' || schema.type === undefined) &&
  Object.keys(schema.properties ?? {}).length > 0 &&
  !schema.nullable &&
  !['anyOf', 'oneOf', 'allOf', 'enum', 'const'].some((k) => k in schema);

function objectType(schema, named, indent, where) {
  const properties = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  const extra = schema.additionalProperties;
  if (!properties.length) {
    if (extra === false) return 'Record<string, never>';
    return `Record<string, ${extra === undefined || extra === true ? 'unknown' : tsType(extra, named, indent, `${where}{}`)}>`;
  }
  const inner = `${indent}  `;
  let body = '';
  for (const [key, sub] of properties) {
    if (sub && typeof sub === 'object' && sub.description) body += comment(sub.description, inner);
    const k = IDENTIFIER.test(key) ? key : literal(key, where);
    body += `${inner}${k}${required.has(key) ? '' : '?'}: ${tsType(sub, named, inner, `${where}.${key}`)};\n`;
  }
  if (extra !== undefined && extra !== false) body += `${inner}[key: string]: ${extra === true ? 'unknown' : tsType(extra, named, inner, `${where}{}`)};\n`;
  return `{\n${body}${indent}}`;
}

/** The file's text for this document (formatted as prettier formats the repository). */
export async function renderApiTypes(doc, types = API_TYPES) {
  const resolved = types.map(({ name, from }) => {
    const schemas = from.map((place) => ({ place, schema: schemaAt(doc, place) }));
    const first = schemas[0];
    for (const other of schemas.slice(1))
      if (canonical(other.schema) !== canonical(first.schema))
        throw new Error(`${name}: "${other.place}" and "${first.place}" have different schemas; name them apart in scripts/gen-api-types.mjs`);
    return { name, from, schema: first.schema };
  });
  // Later types give way to earlier ones of the same schema (first named, first used).
  const named = new Map();
  for (const t of resolved) if (!named.has(canonical(t.schema))) named.set(canonical(t.schema), t.name);

  let out =
    '// Generated by `npm run gen:api` (scripts/gen-api-types.mjs) from the OpenAPI document the\n' +
    '// service serves at /docs/json: do not edit. test/build/api-types.test.ts fails when it is stale.\n';
  for (const { name, from, schema } of resolved) {
    // Its own schema is not written as its name; another type's equal schema is (an alias).
    const type = tsType(schema, new Map([...named].filter(([, n]) => n !== name)), '', name);
    const doc = [schema.description, `From ${from.join(', ')}.`].filter(Boolean).join('\n\n');
    out += `\n${comment(doc, '')}`;
    out += isPlainObject(schema) && !type.match(/^[A-Za-z0-9_$]+$/) ? `export interface ${name} ${type}\n` : `export type ${name} = ${type};\n`;
  }
  const prettier = await import('prettier');
  return prettier.format(out, { ...(await prettier.resolveConfig(OUT_FILE)), filepath: OUT_FILE });
}

export async function generateApiTypes() {
  return renderApiTypes(await servedOpenApi());
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { register } = await import('tsx/esm/api');
  register();
  const started = Date.now();
  const text = await generateApiTypes();
  writeFileSync(OUT_FILE, text);
  console.log(`Wrote ${relative(ROOT, OUT_FILE)} (${API_TYPES.length} types) in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}
