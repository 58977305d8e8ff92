import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerRepo } from '../../src/modules/ledger/repo.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { startHarness, testLogger, type Harness } from '../helpers/harness.js';
import { generateVisits } from '../../bench/lib/ledger-data.js';
import { adminLogin } from './helpers.js';
import { download, expectSameRows, listingAll, parseCsv } from './ledger-helpers.js';

// An export outlives the process that began it, and is never written by two at once.

let h: Harness;
let second: Runtime | null = null;
let token: string;

const rowsOf = (r: unknown) => ((r as { rows?: unknown[] }).rows ?? r) as Array<Record<string, unknown>>;

beforeAll(async () => {
  // One record per batch: the export is still running when the process stops.
  h = await startHarness({ env: { LEDGER_EXPORT_BATCH: '1', LEDGER_EXPORT_LEASE_S: '2' } });
  token = (await adminLogin(h)).token;
  await generateVisits(h.database.db, { count: 600, end: Math.floor(Date.now() / 1000) + 86_400, days: 10 });
}, 120_000);
afterAll(async () => {
  await second?.close();
  await h?.close();
});

describe('export jobs across a restart', () => {
  it('a process stopped mid-export hands it back; the next one starts it again and the file is whole', async () => {
    const res = await h.request('POST', '/v1/admin/exports', { token, body: { format: 'csv' } });
    const id = res.body.data.id as number;
    const seen = await h.waitFor(
      async () => {
        const v = (await h.request('GET', `/v1/admin/exports/${id}`, { token })).body.data;
        return v.rows_done >= 5 ? v : null;
      },
      { what: 'the export under way' },
    );
    expect(seen.status).toBe('running');
    const config = h.runtime.config;
    await h.runtime.close();
    // The same database, a new process (its own runtime, as after a restart).
    second = await createRuntime(config, { logger: testLogger(config.logLevel) });
    const get = async (url: string) => JSON.parse((await second!.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } })).body);
    const done = await h.waitFor(
      async () => ((await get(`/v1/admin/exports/${id}`)).data.status === 'done' ? (await get(`/v1/admin/exports/${id}`)).data : null),
      {
        timeoutMs: 120_000,
        what: 'the export finished by the second process',
      },
    );
    expect(done.rows_done).toBe(600);
    const [row] = rowsOf(await second.database.db.execute(sql`select attempts, lease_until from ledger_exports where id = ${id}`));
    // Two attempts: the first did not finish (a finished export is never taken again).
    expect(Number(row!.attempts)).toBe(2);
    expect(row!.lease_until).toBeNull();
    // The first attempt can no longer write anything: its writes are fenced on the attempt.
    expect(await ledgerRepo.putChunk(second.database.db, id, 1, 999, Buffer.from('stale'))).toBe(false);
    expect(await ledgerRepo.fenced(second.database.db, id, 1, { rowsDone: 1 })).toBe(false);
    // The listing and the download, from the second process.
    const api = { runtime: second, request: async (_m: string, url: string) => ({ status: 200, body: await get(url) }) } as unknown as Harness;
    expectSameRows(parseCsv((await download(api, token, id)).bytes), await listingAll(api, token, {}), false);
  }, 240_000);
});
