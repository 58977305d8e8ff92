import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPhone } from '../helpers/apply.js';
import { anUnboundUser, applicationBody, aStaff, aVisitor } from '../helpers/factories.js';
import { STAFF, startHarness, type Harness, type Reply } from '../helpers/harness.js';

/**
 * Malformed input on every route of the contract (src/modules/*\/routes.ts): always a 4xx in
 * the error envelope `{code, err_msg, error}` (never a 5xx), and for a field error an
 * `err_msg` that names the field. Cases are generated from a table per route.
 */

let h: Harness;
/** Sessions: a bound visitor, a bound staff member, and a WeChat that is not bound. */
const T = { visitor: '', staff: '', unbound: '' };
let visitorPhone = '';

beforeAll(async () => {
  h = await startHarness({ sms: { limits: null } });
  const visitor = await aVisitor(h);
  visitorPhone = visitor.phone;
  T.visitor = visitor.token;
  T.staff = (await aStaff(h, 'zhangwei')).token;
  T.unbound = (await anUnboundUser(h)).token;
});
afterAll(async () => {
  await h?.close();
});

interface Case {
  label: string;
  method: string;
  url: string;
  token?: keyof typeof T;
  body?: unknown;
  /** A body built when the case runs (it needs the sessions' phones). */
  makeBody?: () => unknown;
  payload?: string;
  headers?: Record<string, string>;
  /** When the answer is 400 VALIDATION_FAILED, its err_msg must contain this. */
  names?: string;
  /** The exact status, when the contract fixes it. */
  status?: number;
}

function expectRefused(res: Reply, c: Case): void {
  const where = `${c.method} ${c.url} ${c.label} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
  expect(res.status, where).toBeGreaterThanOrEqual(400);
  expect(res.status, where).toBeLessThan(500);
  if (c.status !== undefined) expect(res.status, where).toBe(c.status);
  expect(String(res.headers['content-type']), where).toMatch(/^application\/json/);
  expect(typeof res.body, where).toBe('object');
  expect(Object.keys(res.body).sort(), where).toEqual(['code', 'err_msg', 'error']);
  expect(res.body.code, where).toBe(res.status);
  expect(typeof res.body.err_msg, where).toBe('string');
  expect(res.body.err_msg.length, where).toBeGreaterThan(0);
  expect(res.body.error, where).toMatch(/^[A-Z_]+$/);
  // No stack traces or SQL leak into an answer.
  expect(res.body.err_msg, where).not.toMatch(/ at .*\.(ts|js):\d+|select |insert |syntax error|violates/i);
  if (res.body.error === 'VALIDATION_FAILED') {
    expect(res.status, where).toBe(400);
    if (c.names) expect(res.body.err_msg, where).toContain(c.names);
  }
}

async function send(c: Case): Promise<Reply> {
  return h.request(c.method, c.url, {
    token: c.token ? T[c.token] : undefined,
    body: c.makeBody ? c.makeBody() : c.body,
    payload: c.payload,
    headers: { ...(c.payload !== undefined ? { 'content-type': 'application/json' } : {}), ...c.headers },
  });
}

// ---------------------------------------------------------------------------------------------
// Values that are wrong for a field of a kind. Each stays wrong whatever a lenient parser makes
// of it (see the report on type coercion: `"phone": 13900000001` is accepted by routes that do
// not check body types strictly).

const HUGE = 'x'.repeat(5000);
const ODD_TEXT: Array<[string, unknown]> = [
  ['a NUL character', 'a\u0000b'],
  ['only a NUL', '\u0000'],
  ['a lone surrogate', 'a\ud800b'],
  ['a bell character', 'a\u0007b'],
  ['an ANSI escape', '\u001b[2J'],
  ['5000 characters', HUGE],
  ['5000 emoji', '😀'.repeat(5000)],
];
const WRONG_TYPE: Array<[string, unknown]> = [
  ['an object', { a: 1 }],
  ['an empty object', {}],
  ['an array of two', ['a', 'b']],
  ['a nested array', [['x']]],
];
const STRICT_WRONG_TYPE: Array<[string, unknown]> = [
  ['a number', 123],
  ['a float', 1.5],
  ['true', true],
  ['null', null],
  ['an array of one', ['王五']],
];
const BAD_PHONES: Array<[string, unknown]> = [
  ['empty', ''],
  ['letters', 'abc'],
  ['full-width digits', '１３９００００１２３４'],
  ['Arabic-Indic digits', '١٣٩٠٠٠٠١٢٣٤'],
  ['a NUL inside', '139\u00000001234'],
  ['a foreign prefix', '+1 13900001234'],
  ['12 digits', '139000012345'],
  ['starting 12', '12900001234'],
  ['a short number', 12345],
  ['true', true],
  ['5000 characters', HUGE],
  ['an emoji', '😀'],
];
const BAD_INTS: Array<[string, unknown]> = [
  ['a numeric string', '1'],
  ['an empty string', ''],
  ['letters', 'x'],
  ['a float', 1.5],
  ['negative', -1],
  ['2^53', 2 ** 53],
  ['1e308', 1e308],
  ['true', true],
  ['null', null],
  ['an array', [1]],
  ['an object', {}],
];

/** Malformed bodies that no JSON route accepts, whatever its fields. */
function bodyCases(method: string, url: string, token: keyof typeof T): Case[] {
  const base = { method, url, token };
  const raw: Array<[string, string, Record<string, string>?]> = [
    ['truncated JSON', '{"name": "王五", '],
    ['unquoted keys', '{name: 1}'],
    ['single quotes', "{'name': 'x'}"],
    ['a trailing comma', '{"name": "x",}'],
    ['NaN', '{"start_time": NaN}'],
    ['a comment', '{"a": 1 /* c */}'],
    ['two documents', '{"a":1}{"b":2}'],
    ['a bare word', 'hello'],
    ['a NUL byte', '\u0000'],
    ['__proto__ (prototype poisoning)', '{"__proto__": {"isAdmin": true}, "name": "x"}'],
    ['constructor.prototype (prototype poisoning)', '{"constructor": {"prototype": {"isAdmin": true}}}'],
    ['deep nesting', `${'['.repeat(20000)}${']'.repeat(20000)}`],
    ['a BOM then garbage', '\ufeff{garbage'],
  ];
  const cases: Case[] = raw.map(([label, payload]) => ({ ...base, label: `body: ${label}`, payload, names: 'body', status: 400 }));
  // Invalid UTF-8 is decoded with U+FFFD (as Node does): the body is then JSON without the fields.
  cases.push({
    ...base,
    label: 'body: invalid UTF-8',
    payload: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('latin1'),
    status: 400,
  });
  const whole: Array<[string, unknown]> = [
    ['an array', []],
    ['an array of objects', [{ name: 'x' }]],
    ['a string', 'hello'],
    ['a number', 42],
    ['true', true],
    ['null', null],
  ];
  for (const [label, value] of whole) cases.push({ ...base, label: `body is ${label}`, payload: JSON.stringify(value), names: 'body', status: 400 });
  cases.push({ ...base, label: 'no body at all', names: 'body', status: 400 });
  cases.push({ ...base, label: 'an empty JSON body', payload: '', names: 'body', status: 400 });
  const types: Array<[string, string, string]> = [
    ['text/plain', 'text/plain', '{"a":1}'],
    ['application/xml', 'application/xml', '<a>1</a>'],
    ['form-encoded', 'application/x-www-form-urlencoded', 'name=x&phone=13900000001'],
    ['multipart', 'multipart/form-data; boundary=xyz', '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz--'],
    ['an invalid content-type', '/// ;;;', '{}'],
    ['JSON in another charset', 'application/json; charset=utf-16', '{}'],
  ];
  for (const [label, type, payload] of types) cases.push({ ...base, label: `content-type ${label}`, payload, headers: { 'content-type': type }, status: 400 });
  cases.push({ ...base, label: 'a body over the size limit', body: { name: 'x'.repeat(70_000) }, status: 400 });
  return cases;
}

/** One field of a valid body replaced by each bad value. */
function fieldCases(
  method: string,
  url: string,
  token: keyof typeof T,
  valid: () => Record<string, unknown>,
  field: string,
  values: Array<[string, unknown]>,
  names = field,
): Case[] {
  return values.map(([label, value]) => ({ method, url, token, label: `${field} ${label}`, makeBody: () => ({ ...valid(), [field]: value }), names }));
}

function queryCases(path: string, token: keyof typeof T, field: string, values: Array<[string, string]>, names = field): Case[] {
  return values.map(([label, value]) => ({ method: 'GET', url: `${path}?${field}=${value}`, token, label: `?${field} ${label}`, names }));
}

// ---------------------------------------------------------------------------------------------
// The routes. Bodies that would be valid are built fresh per case.

const applyBody = () => applicationBody({ by: { name: '王五', phone: visitorPhone }, body: { purpose: 0, come_from: '', remark: '' } });
const textValues = (required: boolean): Array<[string, unknown]> => [
  ...WRONG_TYPE,
  ...STRICT_WRONG_TYPE,
  ...ODD_TEXT,
  ...(required
    ? ([
        ['empty', ''],
        ['only spaces', '   '],
        ['only ideographic spaces', '\u3000\u3000'],
      ] as Array<[string, unknown]>)
    : []),
];
const phoneValues: Array<[string, unknown]> = [...WRONG_TYPE, ...BAD_PHONES, ['null', null], ['a float', 1.5]];

const POST_SUBJECT: Case[] = [
  ...bodyCases('POST', '/v1/subject', 'visitor'),
  ...['name', 'interviewee'].flatMap((f) => fieldCases('POST', '/v1/subject', 'visitor', applyBody, f, textValues(true))),
  ...['come_from', 'remark'].flatMap((f) => fieldCases('POST', '/v1/subject', 'visitor', applyBody, f, textValues(false))),
  ...['phone', 'interviewee_phone'].flatMap((f) =>
    fieldCases('POST', '/v1/subject', 'visitor', applyBody, f, [...phoneValues, ['a valid phone as a number', 13900000001]]),
  ),
  ...['start_time', 'end_time'].flatMap((f) =>
    fieldCases('POST', '/v1/subject', 'visitor', applyBody, f, [...BAD_INTS, ['year 2200', 7_258_118_400], ['-1e10', -1e10]]),
  ),
  ...fieldCases('POST', '/v1/subject', 'visitor', applyBody, 'purpose', [...BAD_INTS, ['unknown (9999)', 9999], ['2^31', 2 ** 31]]),
  ...fieldCases('POST', '/v1/subject', 'visitor', applyBody, 'subject_type', [
    ['0', 0],
    ['2', 2],
    ['"1"', '1'],
    ['true', true],
    ['null', null],
    ['1.5', 1.5],
    ['-1', -1],
  ]),
  ...fieldCases('POST', '/v1/subject', 'visitor', applyBody, 'retinues', [
    ['a string', 'x'],
    ['a number', 1],
    ['true', true],
    ['null', null],
    ['an object', { name: '甲', phone: '13911112222' }],
    ['21 people', Array.from({ length: 21 }, (_, i) => ({ name: `同伴${i}`, phone: `1371111${String(i).padStart(4, '0')}` }))],
  ]),
  ...(
    [
      ['a number', 1, 'retinues[0]'],
      ['a string', '甲', 'retinues[0]'],
      ['null', null, 'retinues[0]'],
      ['an array', [], 'retinues[0]'],
      ['an empty object', {}, 'retinues[0]'],
      ['no phone', { name: '甲' }, 'retinues[0].phone'],
      ['no name', { phone: '13911112222' }, 'retinues[0].name'],
      ['a numeric name', { name: 5, phone: '13911112222' }, 'retinues[0].name'],
      ['a NUL in the name', { name: '甲\u0000', phone: '13911112222' }, 'retinues[0].name'],
      ['a lone surrogate in the name', { name: '\udc00甲', phone: '13911112222' }, 'retinues[0].name'],
      ['a blank name', { name: '  ', phone: '13911112222' }, 'retinues[0].name'],
      ['a full-width phone', { name: '甲', phone: '１３９１１１１２２２２' }, 'retinues[0].phone'],
      ['a phone as an object', { name: '甲', phone: { n: 1 } }, 'retinues[0].phone'],
      ["the visitor's phone", { name: '甲', phone: '__visitor__' }, 'retinues[0].phone'],
    ] as Array<[string, unknown, string]>
  ).map(([label, item, names]): Case => ({
    method: 'POST',
    url: '/v1/subject',
    token: 'visitor',
    label: `retinues[0] ${label}`,
    makeBody: () => ({
      ...applyBody(),
      retinues: [
        item === null || typeof item !== 'object' || Array.isArray(item) ? item : JSON.parse(JSON.stringify(item).replace('__visitor__', visitorPhone)),
      ],
    }),
    names,
  })),
  ...fieldCases('POST', '/v1/subject', 'visitor', applyBody, 'proposer', [
    ['another phone', '13700001111'],
    ['an object', {}],
    ['garbage', '\u0000'],
    ['5000 characters', HUGE],
  ]),
  ...fieldCases('POST', '/v1/subject', 'visitor', applyBody, 'weixinUserId', [
    ['another', 'someone-else'],
    ['a number', 1],
    ['an object', {}],
    ['5000 characters', HUGE],
  ]),
  ...(
    [
      ['empty', ''],
      ['129 characters', 'k'.repeat(129)],
      ['4000 characters', 'k'.repeat(4000)],
    ] as Array<[string, string]>
  ).map(([label, key]): Case => ({
    method: 'POST',
    url: '/v1/subject',
    token: 'visitor',
    label: `Idempotency-Key ${label}`,
    makeBody: applyBody,
    headers: { 'idempotency-key': key },
    names: 'idempotency-key',
    status: 400,
  })),
  { method: 'POST', url: '/v1/subject', token: 'unbound', label: 'an unbound caller with a valid body', makeBody: applyBody, status: 403 },
  { method: 'POST', url: '/v1/subject', label: 'no session with garbage', payload: '{garbage', status: 401 },
];

const sessionBody = () => ({ code: 'abc', state: '' });
const POST_SESSION: Case[] = [
  ...bodyCases('POST', '/v1/session', 'visitor').map((c) => ({ ...c, token: undefined })),
  ...fieldCases('POST', '/v1/session', 'visitor', sessionBody, 'code', [
    ...WRONG_TYPE,
    ['null', null],
    ['empty', ''],
    ['600 characters', 'c'.repeat(600)],
    ...ODD_TEXT,
  ]).map((c) => ({ ...c, token: undefined })),
  { method: 'POST', url: '/v1/session', label: 'an unknown code', body: { code: 'never-issued', state: '' }, status: 401 },
];

const POST_SESSION_DEV: Case[] = [
  ...bodyCases('POST', '/v1/session/dev', 'visitor').map((c) => ({ ...c, token: undefined, status: 404, names: undefined })),
  { method: 'POST', url: '/v1/session/dev', label: 'a well-formed body outside simulated mode', body: { weixinUserId: 'someone' }, status: 404 },
];

const POST_SMS_CODE: Case[] = [
  ...bodyCases('POST', '/v1/sms/code', 'visitor'),
  ...fieldCases('POST', '/v1/sms/code', 'visitor', () => ({ phone: newPhone() }), 'phone', phoneValues),
];

const staffBindBody = () => ({ name: STAFF.zhangwei.name, phone: STAFF.zhangwei.phone, sms_code: '000000' });
const POST_SUBJECT_BINDING: Case[] = [
  ...bodyCases('POST', '/v1/subject/binding', 'unbound'),
  ...fieldCases('POST', '/v1/subject/binding', 'unbound', staffBindBody, 'name', [
    ...WRONG_TYPE,
    ['null', null],
    ['empty', ''],
    ...ODD_TEXT.filter(([l]) => /characters|emoji/.test(l)),
  ]),
  ...fieldCases('POST', '/v1/subject/binding', 'unbound', staffBindBody, 'phone', phoneValues),
  ...fieldCases('POST', '/v1/subject/binding', 'unbound', staffBindBody, 'sms_code', [
    ...WRONG_TYPE,
    ['20 characters', '1'.repeat(20)],
    ['letters', 'abcdef'],
    ['a NUL', '12\u00003456'],
  ]),
  ...fieldCases('POST', '/v1/subject/binding', 'unbound', staffBindBody, 'weixinUserId', [
    ['another', 'someone-else'],
    ['a number', 1],
    ['an object', {}],
    ['5000 characters', HUGE],
  ]),
];

const visitorBindBody = () => ({ phone: newPhone(), sms_code: '000000' });
const POST_VISITOR_BINDING: Case[] = [
  ...bodyCases('POST', '/v1/visitor/binding', 'unbound'),
  ...fieldCases('POST', '/v1/visitor/binding', 'unbound', visitorBindBody, 'phone', phoneValues),
  ...fieldCases('POST', '/v1/visitor/binding', 'unbound', visitorBindBody, 'sms_code', [
    ...WRONG_TYPE,
    ['20 characters', '1'.repeat(20)],
    ['letters', 'abcdef'],
  ]),
  ...fieldCases('POST', '/v1/visitor/binding', 'unbound', visitorBindBody, 'weixinUserId', [
    ['another', 'someone-else'],
    ['a number', 1],
    ['an object', {}],
  ]),
];

const BAD_PAGING: Array<[string, string]> = [
  ['0', '0'],
  ['negative', '-1'],
  ['a float', '1.5'],
  ['letters', 'abc'],
  ['empty', ''],
  ['huge', '99999999999999999999999'],
  ['a NUL', '%00'],
  ['full-width digits', encodeURIComponent('５')],
  ['Arabic-Indic digits', encodeURIComponent('٥')],
  ['repeated', '1&{field}=2'],
  ['an emoji', encodeURIComponent('😀')],
  ['a lone surrogate escape', '%ED%A0%80'],
  ['Infinity', 'Infinity'],
  ['NaN', 'NaN'],
];
function listCases(path: string): Case[] {
  const cases: Case[] = [];
  for (const field of ['page', 'size'])
    cases.push(
      ...queryCases(
        path,
        'visitor',
        field,
        BAD_PAGING.map(([l, v]) => [l, v.replace('{field}', field)] as [string, string]),
      ),
    );
  cases.push(
    ...queryCases(path, 'visitor', 'size', [
      ['101', '101'],
      ['1e9', '1000000000'],
    ]),
  );
  cases.push(
    ...queryCases(path, 'visitor', 'is_auth', [
      ['2', '2'],
      ['-1', '-1'],
      ['yes', 'yes'],
      ['empty', ''],
      ['0.5', '0.5'],
      ['true', 'true'],
      ['repeated', '0&is_auth=1'],
      ['a NUL', '%00'],
    ]),
  );
  for (const field of path === '/v1/auth/records' ? ['phone', 'proposer'] : ['phone']) {
    cases.push(
      ...queryCases(path, 'visitor', field, [
        ['another phone', '13700001111'],
        ['garbage', 'abc'],
        ['a NUL', '%00'],
        ['huge', 'x'.repeat(3000)],
        ['repeated', `${visitorPhone}&${field}=13700001111`],
      ]).map((c) => ({ ...c, status: 403 })),
    );
  }
  cases.push(
    ...queryCases(path, 'visitor', 'weixinUserId', [
      ['another', 'someone-else'],
      ['huge', 'x'.repeat(3000)],
      ['a NUL', '%00'],
      ['repeated', 'a&weixinUserId=b'],
    ]),
  );
  cases.push({ method: 'GET', url: `${path}?page=1`, token: 'unbound', label: 'an unbound caller', status: 403 });
  cases.push({ method: 'GET', url: `${path}?page=%E0%A4%A`, token: 'visitor', label: 'a broken percent-escape', names: 'page' });
  return cases;
}

function wxQueryCases(path: string): Case[] {
  return [
    ...queryCases(path, 'visitor', 'weixinUserId', [
      ['another', 'someone-else'],
      ['huge', 'x'.repeat(3000)],
      ['a NUL', '%00'],
      ['repeated', 'a&weixinUserId=b'],
      ['an emoji', encodeURIComponent('😀')],
    ]),
    { method: 'GET', url: `${path}?weixinUserId=%E0%A4%A`, token: 'visitor', label: 'a broken percent-escape' },
  ];
}

const PUT_AUTH: Case[] = [
  ...[
    'abc',
    '0',
    '-1',
    '1.5',
    '1e3',
    '0x10',
    '99999999999999999999999',
    '%00',
    '%20',
    encodeURIComponent('５'),
    encodeURIComponent('😀'),
    'null',
    'true',
    '[]',
    'Infinity',
  ].map((id): Case => ({ method: 'PUT', url: `/v1/auth/${id}`, token: 'staff', label: `id ${decodeURIComponentSafe(id)}`, names: 'id' })),
  // PUT has no body: malformed JSON is still 400; well-formed JSON of any shape is ignored.
  ...bodyCases('PUT', '/v1/auth/1', 'staff')
    .filter((c) => c.payload !== undefined && c.headers === undefined && c.label !== 'an empty JSON body')
    .map((c) => ({ ...c, status: undefined, names: undefined })),
  { method: 'PUT', url: '/v1/auth/999999', token: 'staff', label: 'an id that does not exist', status: 404 },
  { method: 'PUT', url: '/v1/auth/1', token: 'unbound', label: 'an unbound caller', status: 403 },
];

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const DELETE_BINDING: Case[] = [
  ...['someone-else', '%00', encodeURIComponent('😀'), encodeURIComponent('a/b')].map((id): Case => ({
    method: 'DELETE',
    url: `/v1/subject/binding/${id}`,
    token: 'visitor',
    label: `weixinUserId ${id.slice(0, 20)}`,
  })),
  { method: 'DELETE', url: `/v1/subject/binding/someone-else`, token: 'visitor', label: 'garbage JSON body', payload: '{garbage' },
];

const NO_ROUTE: Case[] = (
  [
    ['DELETE', '/v1/subject'],
    ['PATCH', '/v1/auth/1'],
    ['GET', '/v1/auth/1'],
    ['POST', '/v1/visit/records'],
    ['PUT', '/v1/subject/purpose'],
    ['GET', '/v1/nope'],
    ['GET', '/v1/subject/purpose/extra'],
    ['GET', '/v2/subject'],
    ['POST', '/v1/subject/'],
  ] as Array<[string, string]>
).flatMap(([method, url]): Case[] => [
  { method, url, label: 'unknown route, no session', status: 404 },
  { method, url, token: 'visitor', label: 'unknown route, garbage body', payload: '{garbage', status: 404 },
]);

const ROUTES: Array<[string, Case[]]> = [
  ['POST /v1/session', POST_SESSION],
  ['POST /v1/session/dev (absent: integrations are real here)', POST_SESSION_DEV],
  ['POST /v1/sms/code', POST_SMS_CODE],
  ['GET /v1/subject/binding', wxQueryCases('/v1/subject/binding')],
  ['POST /v1/subject/binding', POST_SUBJECT_BINDING],
  ['GET /v1/visitor/binding', wxQueryCases('/v1/visitor/binding')],
  ['POST /v1/visitor/binding', POST_VISITOR_BINDING],
  ['DELETE /v1/subject/binding/{weixinUserId}', DELETE_BINDING],
  ['GET /v1/wechat/is_binding', wxQueryCases('/v1/wechat/is_binding')],
  ['POST /v1/subject', POST_SUBJECT],
  ['GET /v1/subject/purpose', wxQueryCases('/v1/subject/purpose')],
  ['GET /v1/visit/records', listCases('/v1/visit/records')],
  ['GET /v1/auth/records', listCases('/v1/auth/records')],
  ['PUT /v1/auth/{id}', PUT_AUTH],
  ['unknown routes', NO_ROUTE],
];

for (const [route, cases] of ROUTES) {
  describe(route, () => {
    it.each(cases.map((c) => [c.label, c] as const))('%s', async (_label, c) => {
      expectRefused(await send(c), c);
    });
  });
}

/**
 * The router refuses these before any hook runs; the app's `frameworkErrors` answers them in
 * the envelope, and `maxParamLength` lets a 128-character weixinUserId reach its schema.
 */
describe('router-level refusals', () => {
  const cases: Case[] = [
    { method: 'DELETE', url: `/v1/subject/binding/${'x'.repeat(200)}`, token: 'visitor', label: 'a 200-character weixinUserId' },
    {
      method: 'DELETE',
      url: `/v1/subject/binding/${'x'.repeat(120)}`,
      token: 'visitor',
      label: 'a 120-character weixinUserId (the schema allows 128): not the caller',
      status: 403,
    },
    { method: 'DELETE', url: '/v1/subject/binding/%E0%A4%A', token: 'visitor', label: 'a broken percent-escape' },
    { method: 'PUT', url: '/v1/auth/%E0%A4%A', token: 'staff', label: 'a broken percent-escape in the id' },
  ];
  it.each(cases.map((c) => [`${c.method} ${c.label}`, c] as const))('%s', async (_label, c) => {
    expectRefused(await send(c), c);
  });
});

/**
 * Bodies are validated without type coercion (src/http/validation.ts): each field has one JSON
 * type, and a wrong one is a 400 naming it, never a converted value (or a real SMS sent).
 */
const COERCED_SMS_PHONE = 13912340000;
describe('strict body types on every route', () => {
  const cases: Case[] = [
    { method: 'POST', url: '/v1/sms/code', token: 'visitor', label: 'phone as a number', body: { phone: COERCED_SMS_PHONE }, names: 'phone' },
    { method: 'POST', url: '/v1/session', label: 'code as a number', body: { code: 12345, state: '' }, names: 'code' },
    {
      method: 'POST',
      url: '/v1/visitor/binding',
      token: 'unbound',
      label: 'phone as a number',
      body: { phone: 13912340001, sms_code: '000000' },
      names: 'phone',
    },
    {
      method: 'POST',
      url: '/v1/visitor/binding',
      token: 'unbound',
      label: 'sms_code as a number',
      body: { phone: '13912340001', sms_code: 123456 },
      names: 'sms_code',
    },
    {
      method: 'POST',
      url: '/v1/subject/binding',
      token: 'unbound',
      label: 'name as a number',
      body: { name: 123, phone: STAFF.zhangwei.phone, sms_code: '000000' },
      names: 'name',
    },
    {
      method: 'POST',
      url: '/v1/subject/binding',
      token: 'unbound',
      label: 'name as an array of one',
      body: { name: ['张伟'], phone: STAFF.zhangwei.phone, sms_code: '000000' },
      names: 'name',
    },
  ];
  it.each(cases.map((c) => [`${c.method} ${c.url} ${c.label}`, c] as const))('%s: 400 VALIDATION_FAILED', async (_label, c) => {
    const res = await send(c);
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 400, error: 'VALIDATION_FAILED' });
    expect(res.body.err_msg).toContain(c.names);
  });
});

describe('authentication on every route', () => {
  const routes: Array<[string, string]> = [
    ['POST', '/v1/sms/code'],
    ['GET', '/v1/subject/binding'],
    ['POST', '/v1/subject/binding'],
    ['GET', '/v1/visitor/binding'],
    ['POST', '/v1/visitor/binding'],
    ['DELETE', '/v1/subject/binding/x'],
    ['GET', '/v1/wechat/is_binding'],
    ['POST', '/v1/subject'],
    ['GET', '/v1/subject/purpose'],
    ['GET', '/v1/visit/records'],
    ['GET', '/v1/auth/records'],
    ['PUT', '/v1/auth/1'],
  ];
  const headers: Array<[string, Record<string, string>]> = [
    ['none', {}],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['a forged token', { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }],
    ['Basic', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['a 6000-character token', { authorization: `Bearer ${'t'.repeat(6000)}` }],
    ['two tokens', { authorization: 'Bearer a b' }],
  ];
  it.each(routes.flatMap(([m, u]) => headers.map(([l, hd]) => [`${m} ${u}: ${l}`, m, u, hd] as const)))('%s → 401', async (_l, method, url, hd) => {
    // Garbage in the body too: authentication is checked first (§2).
    const c: Case = { method, url, label: 'auth', headers: hd, payload: method === 'GET' ? undefined : '{garbage', status: 401 };
    const res = await send(c);
    expectRefused(res, c);
    expect(res.body.error).toBe('UNAUTHENTICATED');
  });
});

describe('nothing was created or sent by any of it', () => {
  it('no application, and no SMS (but the one a coerced number lets through, above)', async () => {
    const mine = await h.request('GET', '/v1/auth/records?size=100', { token: T.visitor });
    expect(mine.body.page.count).toBe(0);
    expect(h.sims.sms.messages().filter((m) => m.phone !== String(COERCED_SMS_PHONE))).toEqual([]);
  });
});
