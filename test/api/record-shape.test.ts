import { sql } from 'drizzle-orm';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRecords } from '../../src/modules/admin/records.js';
import { applicationRepo, recordColumns } from '../../src/modules/applications/repo.js';
import { listPage, RECORD_JSON } from '../../src/modules/applications/repo/list-pages.js';
import { Record, RECORD_KEYS, type ApplicationRecord } from '../../src/modules/applications/schemas.js';
import { RECORD_KEYS as CONTRACT_KEYS } from '../helpers/apply.js';
import { futureWindow, STAFF, startHarness, type Harness } from '../helpers/harness.js';

/**
 * The record is defined once, by the TypeBox `Record` (schemas.ts). Every way the server produces
 * one must give exactly its keys, with values of its types: the answer of POST /v1/subject (built
 * in TypeScript), the list statements' JSON (RECORD_JSON), the select of `recordColumns` (3.11, the
 * admin list, privacy export), and the stored answer of an Idempotency-Key.
 */
let h: Harness;
let invitation: ApplicationRecord;
let request: ApplicationRecord;
const visitor = '13900007001';
const companion = '13900007002';

const keysOf = (o: object) => Object.keys(o).sort();
const schemaKeys = Object.keys(Record.properties).sort();

beforeAll(async () => {
  h = await startHarness({ env: { APPLY_PER_HOUR: '1000' } });
  const host = await h.bound('wx-shape-host', STAFF.zhangwei.phone);
  const guest = await h.bound('wx-shape-visitor', visitor);
  const invited = await h.request('POST', '/v1/subject', {
    token: host,
    body: {
      name: '访客',
      phone: visitor,
      interviewee: '张伟',
      interviewee_phone: STAFF.zhangwei.phone,
      retinues: [{ name: '同伴', phone: companion }],
      ...futureWindow(),
    },
  });
  expect(invited.status).toBe(200);
  invitation = invited.body.data;
  const requested = await h.request('POST', '/v1/subject', {
    token: guest,
    headers: { 'idempotency-key': 'k-shape' },
    body: { name: '访客', phone: visitor, interviewee: '张伟', interviewee_phone: STAFF.zhangwei.phone, remark: '备注', ...futureWindow(2) },
  });
  expect(requested.status).toBe(200);
  request = requested.body.data;
});
afterAll(async () => {
  await h?.close();
});

describe('one definition of the record', () => {
  it("the schema's keys are the contract's (§4)", () => {
    expect(schemaKeys).toEqual(CONTRACT_KEYS);
    expect([...RECORD_KEYS].sort()).toEqual(schemaKeys);
  });

  it("recordColumns selects exactly the schema's keys", () => {
    expect(keysOf(recordColumns)).toEqual(schemaKeys);
  });

  it("RECORD_JSON builds exactly the schema's keys", () => {
    const keys = [...RECORD_JSON.matchAll(/'([a-z_]+)', /g)].map((m) => m[1]!);
    expect(keys.sort()).toEqual(schemaKeys);
  });

  it('the answer of POST /v1/subject is a record of the schema', () => {
    for (const r of [invitation, request]) {
      expect(keysOf(r)).toEqual(schemaKeys);
      expect(Value.Check(Record, r)).toBe(true);
    }
  });

  it('the list statements (3.9, 3.10) read the same records, of the schema', async () => {
    const involving = await listPage(h.database, 'involving', visitor, {}, { page: 1, size: 10 });
    const proposed = await listPage(h.database, 'proposed', STAFF.zhangwei.phone, {}, { page: 1, size: 10 });
    const filtered = await listPage(h.database, 'proposed', visitor, { isAuth: 0 }, { page: 1, size: 10 });
    expect(involving.rows).toEqual([invitation]);
    expect(proposed.rows).toEqual([invitation]);
    expect(filtered.rows).toEqual([request]);
    for (const r of [...involving.rows, ...proposed.rows, ...filtered.rows]) {
      expect(keysOf(r)).toEqual(schemaKeys);
      expect(Value.Check(Record, r)).toBe(true);
    }
  });

  it('recordColumns reads the same records, of the schema (3.11, the admin list adds its kind)', async () => {
    for (const expected of [invitation, request]) {
      const r = await applicationRepo.findById(h.database.db, expected.id);
      expect(r).toEqual(expected);
      expect(keysOf(r!)).toEqual(schemaKeys);
      expect(Value.Check(Record, r)).toBe(true);
    }
    const admin = await adminRecords.list(h.database.db, { phone: visitor, page: 1, size: 10 });
    expect(admin.rows).toHaveLength(2);
    for (const r of admin.rows) expect(keysOf(r)).toEqual([...schemaKeys, 'kind'].sort());
  });

  it('the stored answer of an Idempotency-Key is the record', async () => {
    const stored = (await h.database.db.execute(sql`select response from idempotency_keys where key = 'k-shape'`)) as unknown as {
      rows: Array<{ response: ApplicationRecord }>;
    };
    expect(stored.rows[0]!.response).toEqual(request);
    expect(keysOf(stored.rows[0]!.response)).toEqual(schemaKeys);
  });
});
