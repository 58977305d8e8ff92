import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inArray, or, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solidPng } from '../../src/adapters/koala/demo-data.js';
import { auditLog, landedFiles, notifications } from '../../src/db/schema.js';
import { adminLogin } from '../admin/helpers.js';
import { newOpenid, newPhone, settled } from '../helpers/apply.js';
import { anApplication, anAuthorizedVisit, aVisitor, type Staff } from '../helpers/factories.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * PIPL export and erasure of a staff member's phone beyond the visit records: the audit log
 * names them as the actor of what they did (a full number, kept forever), and their face sits in
 * our storage (the avatar landed from Koala). Export lists both; erasure keeps the entries with
 * the number masked and deletes the picture file; the counts say what went.
 */
let h: Harness;
let admin: string;
let staff: Staff;
let avatarUrl = '';
const AVATAR_PATH = '/static/upload/avatar/privacy-traces.png';
const masked = (phone: string) => `${phone.slice(0, 3)}****${phone.slice(7)}`;

beforeAll(async () => {
  h = await startHarness();
  admin = (await adminLogin(h)).token;
  const phone = newPhone('136');
  h.sims.koala.addImage(AVATAR_PATH, solidPng([7, 77, 177]));
  const added = h.sims.koala.addEmployee({ name: '隐私员工', phone, avatar: AVATAR_PATH });
  const openid = newOpenid('wx-pt');
  staff = { name: added.name, phone, subjectId: added.id, department: '', openid, token: await h.bound(openid, phone) };
  // Each profile read lands the picture if it is not yet (a fetch slowed past the deadline on a busy box tries again).
  avatarUrl = await h.waitFor(
    async () => {
      const profile = await h.request('GET', '/v1/subject/binding', { token: staff.token });
      expect(profile.status, JSON.stringify(profile.body)).toBe(200);
      return (profile.body.data.avatar as string) || null;
    },
    { what: 'the avatar landed' },
  );
  expect(avatarUrl).toMatch(/\/files\/avatars\//);
});
afterAll(async () => {
  await h?.close();
});

const storagePath = (url: string) => {
  const s = h.runtime.config.storage;
  if (s.driver !== 'local') throw new Error('this test needs local storage');
  return join(s.dir, ...url.split('/files/')[1]!.split('/'));
};

describe('the audit log and the landed picture in PIPL export and erasure', () => {
  it('export lists the audit entries naming the phone and the picture held; erasure masks the one and deletes the other', async () => {
    // The staff member acts: an invitation (audited as their authorization) and a visitor's request they authorize.
    const invitation = await anApplication(h, { by: staff, retinues: 1 });
    const visitor = await aVisitor(h);
    const { record: request } = await anAuthorizedVisit(h, { via: 'request', host: staff, visitor });
    await settled(h, invitation.id);
    await settled(h, request.id);

    const exported = await h.request('GET', `/v1/privacy/export?phone=${staff.phone}`, { token: admin });
    expect(exported.status, JSON.stringify(exported.body)).toBe(200);
    const entries = exported.body.data.audit as Array<{ id: number; actor_id: string; action: string; target_id: string }>;
    expect(entries.filter((e) => e.actor_id === staff.phone).map((e) => [e.action, e.target_id])).toEqual([
      ['application.authorize', String(invitation.id)],
      ['application.authorize', String(request.id)],
    ]);
    expect(exported.body.data.pictures).toEqual([
      {
        kind: 'avatar',
        source_url: `${h.sims.koala.url}${AVATAR_PATH}`,
        storage_key: avatarUrl.split('/files/')[1],
        content_type: 'image/png',
        bytes: solidPng([7, 77, 177]).length,
        landed_at: expect.any(String),
      },
    ]);
    expect(existsSync(storagePath(avatarUrl))).toBe(true);

    // What the erasure should count: every notification and pass of the two records, whoever they were for.
    const ids = [invitation.id, request.id];
    const notes = await h.database.db
      .select({ id: notifications.id })
      .from(notifications)
      .where(or(inArray(notifications.applicationId, ids), eq(notifications.phone, staff.phone)));
    expect(notes.length).toBeGreaterThan(2);

    const erased = await h.request('POST', '/v1/privacy/erase', { token: admin, body: { phone: staff.phone } });
    expect(erased.status, JSON.stringify(erased.body)).toBe(200);
    expect(erased.body.data).toMatchObject({
      applications_deleted: 2,
      notifications_deleted: notes.length,
      staff_cache_deleted: 1,
      audit_entries_masked: entries.length,
      pictures_deleted: 1,
    });

    // The entries stay, with the masked number; no audit row holds the full one.
    const kept = await h.database.db
      .select()
      .from(auditLog)
      .where(
        inArray(
          auditLog.id,
          entries.map((e) => e.id),
        ),
      );
    expect(kept).toHaveLength(entries.length);
    expect(kept.filter((e) => e.action === 'application.authorize').every((e) => e.actorId === masked(staff.phone))).toBe(true);
    const anyFull = await h.database.db.execute(
      sql`select id from audit_log where actor_id = ${staff.phone} or target_id = ${staff.phone} or detail::text like ${`%${staff.phone}%`}`,
    );
    expect((anyFull as unknown as { rows: unknown[] }).rows).toEqual([]);
    const filtered = await h.request('GET', `/v1/audit?actor_id=${staff.phone}`, { token: admin });
    expect(filtered.body.data).toEqual([]);

    // The picture is gone: no row, no file, not served.
    expect(
      await h.database.db
        .select()
        .from(landedFiles)
        .where(eq(landedFiles.sourceUrl, `${h.sims.koala.url}${AVATAR_PATH}`)),
    ).toEqual([]);
    expect(existsSync(storagePath(avatarUrl))).toBe(false);
    const served = await h.runtime.app.inject({ method: 'GET', url: avatarUrl.replace('http://laifang.test', '') });
    expect(served.statusCode).toBe(404);

    // The export now holds nothing of them.
    const after = await h.request('GET', `/v1/privacy/export?phone=${staff.phone}`, { token: admin });
    expect(after.body.data).toMatchObject({ applications: [], notifications: [], audit: [], pictures: [], staff: null });
  });
});
