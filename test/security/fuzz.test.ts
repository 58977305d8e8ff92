import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionTokens } from '../../src/modules/session/tokens.js';
import { newOpenid, newPhone } from '../helpers/apply.js';
import { anApplication, anUnboundUser, aStaff, aVisitor } from '../helpers/factories.js';
import { STAFF, startHarness, type Harness } from '../helpers/harness.js';
import { contentTypes, hostileString, hostileValue, objectOf, rawBody, validish, type Hints } from './arbitraries.js';
import { openApiRoutes, type ApiRoute } from './openapi.js';

/** Set-up makes many OAuth exchanges; on a loaded CI box the simulators may take more than the default 2 s. */
const PATIENT = { UPSTREAM_TIMEOUT_MS: '10000' };

/**
 * Every route of the OpenAPI document, fuzzed from its own schema (issue 6, "Attacks"): valid-ish
 * and hostile path parameters, queries, bodies, content types and credentials. Whatever comes
 * in, the answer is never a 5xx, always the contract's envelope (§1), and an error never carries
 * a stack trace, SQL or a file path. Fixed seed; FUZZ_RUNS runs per route (default 60).
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

const LEAKS: Array<[string, RegExp]> = [
  ['stack trace', /\bat (?:async )?[\w.<>]+ \(|\n\s+at /],
  ['file path', /(?:\/[\w.-]+){2,}\.(?:ts|js|mjs|cjs)\b|node_modules|file:\/\//],
  [
    'SQL',
    /\b(?:select\s.+\sfrom|insert\s+into|update\s+\w+\s+set|delete\s+from)\b|syntax error at|violates .* constraint|duplicate key value|relation "|column "|invalid input syntax|pg_advisory/i,
  ],
  ['internal error name', /\b(?:TypeError|ReferenceError|RangeError|SyntaxError|DrizzleError|PGlite|DatabaseError)\b/],
];

type Cred = { label: string; header?: string };

/** Routes whose 200 is a file, not the envelope. */
const FILE_ROUTES = new Set(['/v1/admin/exports/{id}/file']);

describe('fuzzing every route from its OpenAPI schema', () => {
  let h: Harness;
  let routes: ApiRoute[];
  let creds: Cred[];
  let hints: Hints;
  const stats = { requests: 0, byStatus: new Map<number, number>(), routes: 0 };

  beforeAll(async () => {
    h = await startHarness({ env: { ADMIN_USERNAME: 'fuzz-admin', ADMIN_PASSWORD: 'fuzz-admin-password-1', ...PATIENT } });
    const login = await h.request('POST', '/v1/admin/session', { body: { username: 'fuzz-admin', password: 'fuzz-admin-password-1' } });
    expect(login.status).toBe(200);
    const staffP = await aStaff(h, 'zhangwei', { openid: newOpenid('fz-s') });
    const visitorP = await aVisitor(h, { name: '访客', openid: newOpenid('fz-v') });
    const { token: unbound } = await anUnboundUser(h, newOpenid('fz-u'));
    const [staff, visitor, visitorPhone, visitorWx, staffWx] = [staffP.token, visitorP.token, visitorP.phone, visitorP.openid, staffP.openid];
    // A record so that ids and lists have something to find.
    const made = await anApplication(h, { by: visitorP, host: STAFF.zhangwei });
    const expired = createSessionTokens('test-secret-test-secret-test-secret-0123456789', 60).issue(visitorWx, Math.floor(Date.now() / 1000) - 3600).token;
    const foreign = createSessionTokens('another-secret-another-secret-another-secret', 3600).issue(visitorWx, Math.floor(Date.now() / 1000)).token;
    const adminToken = login.body.data.token as string;
    const kiosk = await h.request('POST', '/v1/devices', { token: adminToken, body: { name: 'fuzz kiosk', kind: 'kiosk' } });
    const turnstile = await h.request('POST', '/v1/devices', { token: adminToken, body: { name: 'fuzz gate', kind: 'turnstile' } });
    expect([kiosk.status, turnstile.status]).toEqual([200, 200]);
    creds = [
      { label: 'staff', header: `Bearer ${staff}` },
      { label: 'visitor', header: `Bearer ${visitor}` },
      { label: 'admin', header: `Bearer ${adminToken}` },
      { label: 'unbound', header: `Bearer ${unbound}` },
      { label: 'none' },
      { label: 'expired', header: `Bearer ${expired}` },
      { label: 'other secret', header: `Bearer ${foreign}` },
      { label: 'garbage', header: 'Bearer v1.eyJzdWIiOiJ4In0.AAAA' },
      { label: 'kiosk', header: `Device ${kiosk.body.data.token as string}` },
      { label: 'turnstile', header: `Device ${turnstile.body.data.token as string}` },
      { label: 'unknown device', header: 'Device 0123456789abcdef' },
      { label: 'basic', header: 'Basic YWRtaW46YWRtaW4=' },
    ];
    hints = {
      phones: [STAFF.zhangwei.phone, STAFF.lina.phone, visitorPhone, newPhone()],
      weixinUserIds: [visitorWx, staffWx, 'someone-else'],
      ids: [made.id],
    };
    routes = openApiRoutes(h.runtime.app.swagger());
  });
  afterAll(async () => {
    await h?.close();
    // The figures for docs/RELIABILITY.md.
    console.log(
      `fuzz: seed ${SEED}, ${stats.routes} routes, ${stats.requests} requests, statuses ${JSON.stringify(Object.fromEntries([...stats.byStatus].sort()))}`,
    );
  });

  /**
   * The credentials a route accepts (whatever answers an empty request with something other
   * than 401) weigh more, so that most generated requests reach validation and the services.
   */
  async function credsFor(route: ApiRoute): Promise<fc.Arbitrary<Cred>> {
    const accepted = new Set<string>();
    for (const c of creds) {
      const res = await h.runtime.app.inject({
        method: route.method,
        url: route.path.replace(/\{\w+\}/g, '1'),
        headers: c.header ? { authorization: c.header } : {},
      });
      if (res.statusCode !== 401) accepted.add(c.label);
    }
    return fc.oneof(...creds.map((c) => ({ weight: accepted.has(c.label) ? 8 : 1, arbitrary: fc.constant(c) })));
  }

  function requestArb(route: ApiRoute, cred: fc.Arbitrary<Cred>) {
    const params = Object.fromEntries(
      Object.entries(route.pathParams).map(([name, schema]) => [
        name,
        fc.oneof({ weight: 3, arbitrary: validish(schema, name, hints) }, { weight: 2, arbitrary: hostileString }),
      ]),
    );
    const query = fc.oneof(
      { weight: 2, arbitrary: fc.constant({} as Record<string, unknown>) },
      { weight: 4, arbitrary: route.query ? objectOf(route.query, hints) : fc.constant({} as Record<string, unknown>) },
      {
        weight: 1,
        arbitrary: fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('page', 'size', 'phone', 'weixinUserId', '__proto__')), hostileValue, {
          maxKeys: 3,
        }),
      },
    );
    const body = fc.oneof(
      { weight: 5, arbitrary: route.body ? objectOf(route.body, hints).map((b) => ({ json: b as unknown })) : fc.constant({ json: undefined as unknown }) },
      { weight: 2, arbitrary: hostileValue.map((v) => ({ json: v })) },
      { weight: 2, arbitrary: rawBody.map((raw) => ({ raw })) },
    );
    const headers = fc.record(
      {
        'content-type': contentTypes,
        'idempotency-key': fc.oneof(fc.string({ maxLength: 20 }), fc.constant('x'.repeat(300))),
        'x-request-id': fc.oneof(fc.string({ maxLength: 20 }), hostileString),
        'x-forwarded-for': fc.constantFrom('1.2.3.4', 'not-an-ip', '::1, 10.0.0.1'),
        accept: fc.constantFrom('application/json', 'text/html', '*/*', 'image/png'),
      },
      { requiredKeys: [] },
    );
    return fc.record({ params: fc.record(params), query, body, headers, cred });
  }

  function queryString(q: Record<string, unknown>): string {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const item of v) sp.append(k, typeof item === 'string' ? item : JSON.stringify(item));
      else sp.append(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    const s = sp.toString();
    return s ? `?${s}` : '';
  }

  it('never a 5xx, always the envelope, never a stack trace, SQL or file path', { timeout: 240_000 }, async () => {
    expect(routes.length).toBeGreaterThanOrEqual(10);
    for (const route of routes) {
      stats.routes++;
      await fc.assert(
        fc.asyncProperty(requestArb(route, await credsFor(route)), async (r) => {
          const path = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
            const v = r.params[name];
            return encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v));
          });
          const url = path + queryString(r.query);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(r.headers)) {
            // Header values must be Latin-1 without control characters, or the client itself refuses them.
            if (typeof v === 'string' && /^[\x20-\x7e]*$/.test(v)) headers[k] = v;
          }
          if (r.cred.header) headers.authorization = r.cred.header;
          const hasBody = route.method !== 'GET' && route.method !== 'DELETE';
          const payload = !hasBody ? undefined : 'raw' in r.body ? r.body.raw : r.body.json === undefined ? undefined : JSON.stringify(r.body.json);
          const res = await h.runtime.app.inject({ method: route.method, url, headers, ...(payload !== undefined ? { payload } : {}) });
          stats.requests++;
          stats.byStatus.set(res.statusCode, (stats.byStatus.get(res.statusCode) ?? 0) + 1);

          const what = `${route.method} ${url.slice(0, 200)} [${r.cred.label}] → ${res.statusCode} ${res.body.slice(0, 300)}`;
          expect(res.statusCode, what).toBeLessThan(500);
          // A download route answers its file (the ledger export), every failure in the envelope.
          if (res.statusCode === 200 && FILE_ROUTES.has(route.path)) {
            expect(String(res.headers['content-type']), what).toMatch(/^(text\/csv|application\/vnd\.openxmlformats)/);
            return;
          }
          expect(String(res.headers['content-type']), what).toMatch(/^application\/json/);
          const body = JSON.parse(res.body) as Record<string, unknown>;
          if (res.statusCode < 300) {
            expect(body.code, what).toBe(0);
            expect(body.err_msg, what).toBe('');
            expect('data' in body, what).toBe(true);
          } else {
            expect(body.code, what).toBe(res.statusCode);
            expect(body.error, what).toMatch(/^[A-Z_]+$/);
            expect(typeof body.err_msg === 'string' && body.err_msg.length > 0, what).toBe(true);
            for (const [kind, pattern] of LEAKS) expect(pattern.test(res.body), `${kind} in ${what}`).toBe(false);
          }
          // A prototype-pollution key in any input never reaches Object.prototype.
          expect(({} as Record<string, unknown>).polluted, what).toBeUndefined();
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    }
    expect(stats.requests).toBe(routes.length * RUNS);
  });
});
