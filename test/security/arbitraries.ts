import fc from 'fast-check';
import type { JsonSchema } from './openapi.js';

/**
 * Generators for the fuzzer: "valid-ish" values built from a route's own JSON schema (so
 * requests get past validation and reach the services), and hostile values that try to break
 * parsing, validation, SQL and serialisation.
 */

export interface Hints {
  phones: string[];
  weixinUserIds: string[];
  ids: number[];
}

const SQL_AND_JSON = [
  "' OR '1'='1",
  "'; drop table applications; --",
  '1; select pg_sleep(5)',
  '" or ""="',
  '\\',
  '%',
  '_',
  '$1',
  '{"$gt": ""}',
  '{"__proto__": {"polluted": 1}}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  '%2e%2e%2f',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\uffff',
  '𠮷野家🙂',
  'ℌ𝔢𝔩𝔩𝔬',
  '\u202eRTL',
  '   ',
  '',
  'null',
  'undefined',
  'NaN',
  '-0',
  '1e309',
  '0x10',
  '１３８００００００００１',
];

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SQL_AND_JSON) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: 33, max: 70_000 }).map((n) => 'A'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS) },
);

function deep(depth: number, leaf: unknown, asArray: boolean): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
}

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.oneof(fc.integer(), fc.constantFrom(-1, 0, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, 0.5, -0.0)) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false) },
  { weight: 1, arbitrary: fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer()), { maxLength: 5 }) },
  {
    weight: 1,
    arbitrary: fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...PROTO_KEYS)), fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), {
      maxKeys: 4,
    }),
  },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 20, max: 2000 }), fc.boolean()).map(([d, arr]) => deep(d, 'x', arr)) },
);

function phoneArb(h: Hints): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...h.phones) },
    { weight: 1, arbitrary: fc.constantFrom(...h.phones).map((p) => `+86 ${p.slice(0, 3)}-${p.slice(3, 7)}-${p.slice(7)}`) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.integer({ min: 3, max: 9 }), fc.integer({ min: 0, max: 999_999_999 })).map(([a, b]) => `1${a}${String(b).padStart(9, '0')}`),
    },
  );
}

/** A value that fits the schema (the property name steers domain values such as phones and times). */
export function validish(schema: JsonSchema | undefined, name: string, h: Hints, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return hostileValue;
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alts = schema.anyOf ?? schema.oneOf;
  if (alts && alts.length > 0) return fc.oneof(...alts.map((s) => validish(s, name, h, depth + 1)));
  const lname = name.toLowerCase();
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === 'string' || (!type && /phone|proposer/.test(lname))) {
    if (/phone|proposer/.test(lname)) return phoneArb(h);
    if (lname === 'weixinuserid') return fc.constantFrom(...h.weixinUserIds);
    if (lname === 'sms_code')
      return fc.oneof(
        fc.integer({ min: 0, max: 999_999 }).map((n) => String(n).padStart(6, '0')),
        fc.constant('000000'),
      );
    const min = schema.minLength ?? 0;
    const max = Math.min(schema.maxLength ?? 40, 40);
    return fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.max(min, max) });
  }
  if (type === 'integer' || type === 'number') {
    const nowS = Math.floor(Date.now() / 1000);
    if (/time/.test(lname)) return fc.integer({ min: nowS - 3600, max: nowS + 7 * 86_400 });
    if (lname === 'id' && h.ids.length > 0) return fc.oneof(fc.constantFrom(...h.ids), fc.integer({ min: 1, max: 1_000_000 }));
    const min = schema.minimum ?? -1000;
    const max = Math.min(schema.maximum ?? 1_000_000, 1_000_000_000);
    return fc.integer({ min: Math.max(min, -1_000_000_000), max: Math.max(min, max) });
  }
  if (type === 'boolean') return fc.boolean();
  if (type === 'array') return fc.array(validish(schema.items, name, h, depth + 1), { maxLength: Math.min(schema.maxItems ?? 3, 3) });
  if (type === 'object' || schema.properties) return objectOf(schema, h, depth);
  return hostileValue;
}

/** Required fields always, optional ones sometimes; then a chance of one field swapped for a hostile value, dropped, or an extra one added. */
export function objectOf(schema: JsonSchema, h: Hints, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const props = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, s] of props) record[k] = validish(s, k, h, depth + 1);
  const keys = props.map(([k]) => k);
  const base = fc.record(record, { requiredKeys: keys.filter((k) => required.has(k)) });
  const mutation = fc.oneof(
    { weight: 4, arbitrary: fc.constant<null | [string, string, unknown]>(null) },
    { weight: 3, arbitrary: keys.length > 0 ? fc.tuple(fc.constant('swap'), fc.constantFrom(...keys), hostileValue) : fc.constant(null) },
    { weight: 1, arbitrary: keys.length > 0 ? fc.tuple(fc.constant('drop'), fc.constantFrom(...keys), fc.constant(undefined)) : fc.constant(null) },
    { weight: 2, arbitrary: fc.tuple(fc.constant('extra'), fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 10 })), hostileValue) },
  );
  return fc.tuple(base, mutation).map(([obj, m]) => {
    const out: Record<string, unknown> = { ...(obj as Record<string, unknown>) };
    if (m) {
      const [kind, key, value] = m;
      if (kind === 'drop') delete out[key];
      // defineProperty: an own "__proto__" key, as JSON.parse would make it.
      else Object.defineProperty(out, key, { value, enumerable: true, configurable: true, writable: true });
    }
    return out;
  });
}

/** Raw bodies a JSON parser must survive. */
export const rawBody: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '{',
    '{"a":',
    '[]',
    'null',
    '"str"',
    '0',
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"name":"a","name":"b"}',
    '\u0000',
    '\ufeff{}',
    '{"a":1}garbage',
  ),
  fc.integer({ min: 100, max: 20_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.integer({ min: 100, max: 5_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

export const contentTypes = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/json, text/plain',
);
