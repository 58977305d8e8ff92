import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, openDatabase, type Database } from '../../src/db/client.js';
import { newOpenid, newPhone } from '../helpers/apply.js';
import { STAFF, startHarness, testDbKind, type Harness } from '../helpers/harness.js';
import { adminLogin } from '../admin/helpers.js';

/**
 * An upgrade from the previous release: a database made by the migrations of the release before
 * this one (all but the newest), holding the rows that release wrote, is opened by this
 * version, which applies the newest migration at its start and serves those rows through the
 * API as if it had written them; a message left pending by the old release is sent.
 *
 * The rows are written as SQL against the previous schema: when a migration changes one of
 * these tables, this SQL is what the release before it wrote, and stays so until the next.
 */

const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> };
const NEWEST = journal.entries.at(-1)!.tag;
const cleanup: Array<() => Promise<void> | void> = [];

/** The migrations folder of the previous release: every migration but the newest. */
function previousMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), 'laifang-prev-migrations-'));
  mkdirSync(join(dir, 'meta'));
  const previous = journal.entries.slice(0, -1);
  for (const e of previous) cpSync(join(MIGRATIONS_DIR, `${e.tag}.sql`), join(dir, `${e.tag}.sql`));
  writeFileSync(join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: previous }));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An empty database of this run's kind (not the migrated template). */
async function emptyDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (testDbKind() === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'laifang-upgrade-'));
    return { url: `pglite://${dir}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const base = process.env.TEST_DATABASE_URL!;
  const name = `laifang_up_${Date.now().toString(36)}_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

const visitor = { name: '赵六', phone: newPhone(), openid: newOpenid('wx-old') };
const invited = { name: '钱七', phone: newPhone() };
const host = STAFF.zhangwei;
const now = Math.floor(Date.now() / 1000);
const start = now + 3600;

/** What the previous release wrote: a visitor request waiting for its host, an invitation, their messages. */
async function writeOldRows(old: Database): Promise<{ requestId: number; invitationId: number }> {
  const ids = await old.db.execute<{ id: string }>(sql`
    insert into applications (kind, name, phone, proposer, proposer_weixin_user_id, interviewee, interviewee_phone,
      interviewee_subject_id, start_time, end_time, is_auth, auth_time, created_at, remark)
    values
      ('request', ${visitor.name}, ${visitor.phone}, ${visitor.phone}, ${visitor.openid}, ${host.name}, ${host.phone},
        ${host.subjectId}, ${start}, ${start + 7200}, 0, null, ${now - 600}, '旧版本的申请'),
      ('invitation', ${invited.name}, ${invited.phone}, ${host.phone}, 'wx-host-old', ${host.name}, ${host.phone},
        ${host.subjectId}, ${start}, ${start + 3600}, 1, ${now - 300}, ${now - 300}, '')
    returning id`);
  const result = ids as unknown as { rows?: Array<{ id: string }> } | Array<{ id: string }>;
  const rows = Array.isArray(result) ? result : (result.rows ?? []);
  const [requestId, invitationId] = rows.map((r) => Number(r.id)) as [number, number];
  await old.db.execute(sql`
    insert into application_people (application_id, role, position, name, phone, is_proposer, created_at) values
      (${requestId}, 'host', 0, ${host.name}, ${host.phone}, false, ${now - 600}),
      (${requestId}, 'visitor', 1, ${visitor.name}, ${visitor.phone}, true, ${now - 600}),
      (${invitationId}, 'host', 0, ${host.name}, ${host.phone}, true, ${now - 300}),
      (${invitationId}, 'visitor', 1, ${invited.name}, ${invited.phone}, false, ${now - 300})`);
  await old.db.execute(sql`
    insert into notifications (application_id, event, channel, phone, template, payload, status, attempts, provider_ref, created_at, finished_at) values
      (${requestId}, 'request_created', 'sms', ${host.phone}, 'SMS_TPL_APPROVAL_REMINDER_TO_EMPLOYEE',
        ${JSON.stringify({ templateCode: 'SMS_TPL_APPROVAL_REMINDER_TO_EMPLOYEE', params: { name: visitor.name } })}::jsonb,
        'sent', 1, 'biz-old-1', now() - interval '10 minutes', now() - interval '10 minutes'),
      (${invitationId}, 'invitation_created', 'sms', ${invited.phone}, 'SMS_TPL_APPROVAL_PASS_TO_VISITOR',
        ${JSON.stringify({ templateCode: 'SMS_TPL_APPROVAL_PASS_TO_VISITOR', params: { name: invited.name } })}::jsonb,
        'pending', 0, null, now() - interval '5 minutes', null)`);
  return { requestId, invitationId };
}

let h: Harness;
let ids: { requestId: number; invitationId: number };

beforeAll(async () => {
  const { url, drop } = await emptyDatabase();
  cleanup.push(drop);
  const old = await openDatabase(url);
  const migrationsFolder = previousMigrations();
  if (old.kind === 'pglite') await migratePglite(old.db as never, { migrationsFolder });
  else await migratePg(old.db as never, { migrationsFolder });
  // The previous schema: without the table the newest migration (0011, the ledger) creates.
  const applied = await old.db.execute(sql`select to_regclass('ledger_exports') is null as absent`);
  expect(JSON.stringify(applied)).toContain('"absent":true');
  ids = await writeOldRows(old);
  await old.close();
  // This version starts on it: the runtime applies the newest migration, then serves.
  h = await startHarness({ database: async () => ({ database: await openDatabase(url), url, drop: async () => {} }) });
}, 120_000);

afterAll(async () => {
  await h?.close();
  for (const c of cleanup.reverse()) await c();
});

describe(`upgrade from the previous release's schema (before ${NEWEST})`, { timeout: 60_000 }, () => {
  it('applies the newest migration at start', async () => {
    const res = await h.database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    expect(JSON.stringify(res)).toContain(`"n":${journal.entries.length}`);
  });

  it("serves the old rows through the API: the visitor's own list, the host's list, the admin's", async () => {
    const visitorToken = await h.bound(visitor.openid, visitor.phone);
    const mine = await h.request('GET', '/v1/auth/records', { token: visitorToken });
    expect(mine.status).toBe(200);
    expect(mine.body.data).toMatchObject([{ id: ids.requestId, name: visitor.name, is_auth: 0, remark: '旧版本的申请', interviewee_phone: host.phone }]);

    const hostToken = await h.bound(newOpenid('wx-host'), host.phone);
    const involving = await h.request('GET', '/v1/visit/records', { token: hostToken });
    expect(involving.status).toBe(200);
    expect(involving.body.data.map((r: { id: number }) => r.id)).toContain(ids.requestId);

    const admin = await adminLogin(h);
    const all = await h.request('GET', '/v1/visit/records?type=web', { token: admin.token });
    expect(all.status).toBe(200);
    expect(JSON.stringify(all.body)).toContain(invited.phone.slice(-4));
  });

  it('lets the host authorize the request the old release left waiting', async () => {
    const hostToken = await h.bound(newOpenid('wx-host'), host.phone);
    const res = await h.request('PUT', `/v1/auth/${ids.requestId}`, { token: hostToken });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data).toMatchObject({ id: ids.requestId, is_auth: 1 });
  });

  it('sends the message the old release left pending, once', async () => {
    await h.waitFor(() => h.sims.sms.messages().some((m) => m.phone === invited.phone), { what: 'the pending SMS sent' });
    const rows = await h.database.db.execute(sql`select status from notifications where application_id = ${ids.invitationId}`);
    expect(JSON.stringify(rows)).toContain('"status":"sent"');
    expect(h.sims.sms.messages().filter((m) => m.phone === invited.phone)).toHaveLength(1);
  });
});
