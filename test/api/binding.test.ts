import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solidPng, PNG_SIGNATURE } from '../../src/adapters/koala/demo-data.js';
import { STAFF, startHarness, type Harness, type Reply } from '../helpers/harness.js';

/** api-contract.md §3.1–3.6 (and how they use the codes of §3.0). */

let offset = 0;
const now = () => Date.now() + offset;
/** Past KOALA_CACHE_SECONDS (600 by default): what the service remembers of Koala is stale. */
const staleKoala = () => {
  offset += 601_000;
};

let h: Harness;
let requester: string;

beforeAll(async () => {
  // The Aliyun simulator's own flow control would only get in the way of the service's (tested in sms-code).
  // One session asks the codes for every phone here: the per-caller limit on phones is lifted
  // (test/security/sms-requesters.test.ts holds it).
  h = await startHarness({ now, sms: { limits: null }, env: { SMS_CODE_PHONES_PER_HOUR: '1000' } });
  requester = await h.session('wx-code-requester');
});
afterAll(async () => {
  await h?.close();
});

const ok = (data: unknown) => ({ code: 0, err_msg: '', data });

function expectFailure(res: Reply, status: number, error: string): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { code: status, error } });
  expect(Object.keys(res.body).sort()).toEqual(['code', 'err_msg', 'error']);
}

/** A fresh code for `phone` (moving the clock past the per-phone limits when needed). */
async function codeFor(phone: string, as = requester): Promise<string> {
  for (let i = 0; i < 5; i++) {
    const res = await h.request('POST', '/v1/sms/code', { token: as, body: { phone } });
    if (res.status === 200) return h.sims.sms.lastCodeFor(phone)!;
    if (res.status !== 429) throw new Error(`sms code: ${res.status} ${JSON.stringify(res.body)}`);
    offset += (Number(res.headers['retry-after']) + 1) * 1000;
  }
  throw new Error('no code');
}

const bindStaff = (token: string, body: Record<string, unknown>) => h.request('POST', '/v1/subject/binding', { token, body });
const bindVisitor = (token: string, body: Record<string, unknown>) => h.request('POST', '/v1/visitor/binding', { token, body });
const staffStatus = (token: string) => h.request('GET', '/v1/subject/binding', { token });
const visitorStatus = (token: string) => h.request('GET', '/v1/visitor/binding', { token });
const whoAmI = (token: string) => h.request('GET', '/v1/wechat/is_binding', { token });
const unbind = (token: string, weixinUserId: string) => h.request('DELETE', `/v1/subject/binding/${weixinUserId}`, { token });

const koalaHits = (path: string) => h.sims.koala.server.received.filter((r) => r.path === path).length;
const koalaCalls = (pathPrefix: string) => h.sims.koala.server.received.filter((r) => r.path.startsWith(pathPrefix));
const cloudPhone = (weixinUserId: string) => h.sims.cloud.bindings().find((b) => b.weixinUserId === weixinUserId)?.phone;

/** A fresh session, and a staff binding made through 3.2 with a real code. */
async function staffSession(weixinUserId: string, staff: { name: string; phone: string }): Promise<{ token: string; profile: any }> {
  const token = await h.session(weixinUserId);
  const res = await bindStaff(token, { name: staff.name, phone: staff.phone, sms_code: await codeFor(staff.phone) });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { token, profile: res.body.data };
}

/** GET of one of our own file URLs, through the service. */
async function served(url: string): Promise<{ status: number; type: string; body: Buffer }> {
  const u = new URL(url);
  const res = await h.runtime.app.inject({ method: 'GET', url: u.pathname });
  return { status: res.statusCode, type: String(res.headers['content-type']), body: res.rawPayload };
}

async function koalaImage(path: string): Promise<Buffer> {
  return Buffer.from(await (await fetch(`${h.sims.koala.url}${path}`)).arrayBuffer());
}

const OUR_FILE = /^http:\/\/laifang\.test\/files\/[A-Za-z0-9._/-]+$/;

describe('3.2 staff binding and 3.1 staff status', () => {
  it('binds a Koala employee with a valid code; the answer is the profile of 3.1 with a landed avatar', async () => {
    const token = await h.session('wx-zhangwei');
    expect(await staffStatus(token)).toMatchObject({ status: 200, body: ok({}) });
    const code = await codeFor(STAFF.zhangwei.phone);
    const res = await bindStaff(token, { name: '张伟', phone: '+86 138-0000-0001', sms_code: code, weixinUserId: 'wx-zhangwei' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(ok({ subject_id: 1001, name: '张伟', department: '研发部', avatar: expect.stringMatching(OUR_FILE), phone: '13800000001' }));
    expect(res.body.data.avatar).toMatch(/\.png$/);
    expect(res.body.data.avatar).not.toContain(h.sims.koala.url);

    // Bound through the cloud service, form-encoded, with the 11 digits.
    expect(cloudPhone('wx-zhangwei')).toBe('13800000001');
    const post = h.sims.cloud.server.received.find((r) => r.method === 'POST' && r.path === '/v2/wechat/binding')!;
    expect(String(post.headers['content-type'])).toMatch(/^application\/x-www-form-urlencoded/);
    expect(post.body).toEqual({ weixinUserId: 'wx-zhangwei', phone: '13800000001' });

    // The avatar is served by the service itself, as the picture Koala has.
    const file = await served(res.body.data.avatar);
    expect(file.status).toBe(200);
    expect(file.type).toMatch(/^image\/png/);
    expect(file.body.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    const status = await staffStatus(token);
    expect(status.status).toBe(200);
    expect(status.body).toEqual(res.body);
    expect(await whoAmI(token)).toMatchObject({ status: 200, body: ok({ type: 'employee', ...res.body.data }) });
    expect(Object.keys((await whoAmI(token)).body.data).sort()).toEqual(['avatar', 'department', 'name', 'phone', 'subject_id', 'type']);
    expect(file.body.equals(await koalaImage('/static/upload/avatar/zhangwei.png'))).toBe(true);
  });

  it('downloads a Koala picture once, however often it is shown and whoever shares it', async () => {
    const path = '/static/upload/avatar/lina.png';
    const { token, profile } = await staffSession('wx-lina', STAFF.lina);
    expect(profile).toMatchObject({ subject_id: 1002, name: '李娜', department: '行政部', phone: '13800000002' });
    for (let i = 0; i < 3; i++) expect((await staffStatus(token)).body.data.avatar).toBe(profile.avatar);
    await whoAmI(token);
    // A second WeChat for the same employee, and a second employee with the same picture.
    const second = await staffSession('wx-lina-2', STAFF.lina);
    expect(second.profile.avatar).toBe(profile.avatar);
    h.sims.koala.addEmployee({ id: 1101, name: '李娜娜', phone: '13800000102', department: '行政部', avatar: path, photos: [] });
    const twin = await staffSession('wx-linana', { name: '李娜娜', phone: '13800000102' });
    expect(twin.profile).toMatchObject({ subject_id: 1101, avatar: profile.avatar });
    staleKoala();
    expect((await staffStatus(token)).body.data.avatar).toBe(profile.avatar);
    expect(koalaHits(path)).toBe(1);

    // The same picture under another address is downloaded once there, and stored once.
    h.sims.koala.addImage('/static/upload/avatar/lina-copy.png', await koalaImage(path));
    h.sims.koala.addEmployee({ id: 1102, name: '李娜二', phone: '13800000103', avatar: '/static/upload/avatar/lina-copy.png', photos: [] });
    const copy = await staffSession('wx-lina-copy', { name: '李娜二', phone: '13800000103' });
    expect(copy.profile.avatar).toBe(profile.avatar);
    await staffStatus(copy.token);
    expect(koalaHits('/static/upload/avatar/lina-copy.png')).toBe(1);
  });

  it('lands box paths, absolute picture URLs and photos[0] when avatar is ""; no picture is ""', async () => {
    // 王芳: avatar "" and a photo; 刘洋: an absolute avatar URL and no department.
    const wang = await staffSession('wx-wangfang', STAFF.wangfang);
    expect(wang.profile).toEqual({ subject_id: 1003, name: '王芳', department: '市场部', avatar: expect.stringMatching(OUR_FILE), phone: '13800000003' });
    const liu = await staffSession('wx-liuyang', STAFF.liuyang);
    expect(liu.profile).toEqual({ subject_id: 1004, name: '刘洋', department: '', avatar: expect.stringMatching(OUR_FILE), phone: '13800000004' });
    for (const [p, path] of [
      [wang.profile, '/static/upload/photo/wangfang.png'],
      [liu.profile, '/static/upload/avatar/liuyang.png'],
    ] as const) {
      const file = await served(p.avatar);
      expect(file.status).toBe(200);
      expect(file.type).toMatch(/^image\/png/);
      expect(file.body.equals(await koalaImage(path))).toBe(true);
    }
    expect(new Set([wang.profile.avatar, liu.profile.avatar]).size).toBe(2);

    // A JPEG stays a JPEG.
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('not really a jpeg, but served as one')]);
    h.sims.koala.addImage('/static/upload/avatar/jpeg.jpg', jpeg, 'image/jpeg');
    h.sims.koala.addEmployee({ id: 1103, name: '金佳', phone: '13800000104', avatar: `${h.sims.koala.url}/static/upload/avatar/jpeg.jpg`, photos: [] });
    const jin = await staffSession('wx-jin', { name: '金佳', phone: '13800000104' });
    const jfile = await served(jin.profile.avatar);
    expect(jfile.type).toMatch(/^image\/jpeg/);
    expect(jfile.body.equals(jpeg)).toBe(true);

    // No picture at all: "".
    h.sims.koala.addEmployee({ id: 1104, name: '无图', phone: '13800000105', department: '研发部', avatar: '', photos: [] });
    const bare = await staffSession('wx-bare', { name: '无图', phone: '13800000105' });
    expect(bare.profile).toEqual({ subject_id: 1104, name: '无图', department: '研发部', avatar: '', phone: '13800000105' });
    expect((await staffStatus(bare.token)).body).toEqual(ok(bare.profile));
    expect((await whoAmI(bare.token)).body).toEqual(ok({ type: 'employee', ...bare.profile }));
  });

  it('a picture Koala cannot give now is "" (never a Koala address), and is landed once it can', async () => {
    h.sims.koala.addEmployee({ id: 1105, name: '缺图', phone: '13800000106', avatar: '/static/upload/avatar/later.png', photos: [] });
    const { token, profile } = await staffSession('wx-later', { name: '缺图', phone: '13800000106' });
    expect(profile.avatar).toBe('');
    h.sims.koala.addImage('/static/upload/avatar/later.png', solidPng([1, 2, 3]));
    const later = (await staffStatus(token)).body.data.avatar;
    expect(later).toMatch(OUR_FILE);
    expect((await served(later)).status).toBe(200);
  });

  it('our storage failing while a picture lands: the binding still answers (avatar ""), its code is spent, the picture lands later', async () => {
    const dir = h.runtime.config.storage.driver === 'local' ? h.runtime.config.storage.dir : '';
    h.sims.koala.addEmployee({ id: 1109, name: '存储', phone: '13800000111', avatar: '/static/upload/avatar/storage.png', photos: [] });
    h.sims.koala.addImage('/static/upload/avatar/storage.png', solidPng([9, 9, 9]));
    renameSync(join(dir, 'avatars'), join(dir, 'avatars.away'));
    writeFileSync(join(dir, 'avatars'), 'not a directory');
    let token: string;
    let code: string;
    try {
      token = await h.session('wx-storage');
      code = await codeFor('13800000111');
      const res = await bindStaff(token, { name: '存储', phone: '13800000111', sms_code: code });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(ok({ subject_id: 1109, name: '存储', department: '', avatar: '', phone: '13800000111' }));
      expect((await staffStatus(token)).body.data.avatar).toBe('');
    } finally {
      rmSync(join(dir, 'avatars'));
      renameSync(join(dir, 'avatars.away'), join(dir, 'avatars'));
    }
    expectFailure(await bindStaff(token, { name: '存储', phone: '13800000111', sms_code: code }), 400, 'SMS_CODE_INVALID');
    const later = (await staffStatus(token)).body.data.avatar;
    expect(later).toMatch(OUR_FILE);
    expect((await served(later)).status).toBe(200);
  });

  it('binding the same WeChat to the same phone again succeeds', async () => {
    const { token, profile } = await staffSession('wx-again', STAFF.wangfang);
    const res = await bindStaff(token, { name: '王芳', phone: '13800000003', sms_code: await codeFor('13800000003') });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(ok(profile));
    expect((await staffStatus(token)).body).toEqual(ok(profile));
  });

  it('name and phone must both match one Koala employee: else 404 STAFF_NOT_FOUND and nothing is bound', async () => {
    const token = await h.session('wx-nobody');
    const cases = [
      { name: '张三', phone: STAFF.zhangwei.phone }, // a name that is not this employee's
      { name: '张', phone: STAFF.zhangwei.phone }, // a substring of it
      { name: '李娜', phone: STAFF.zhangwei.phone }, // another employee's name
      { name: '张伟', phone: '13900000601' }, // a phone that is nobody's
      { name: '孙悦', phone: '13900000009' }, // a visitor on the Koala box, not an employee
    ];
    for (const c of cases) {
      const res = await bindStaff(token, { ...c, sms_code: await codeFor(c.phone) });
      expect([c, res.status]).toEqual([c, 404]);
      expectFailure(res, 404, 'STAFF_NOT_FOUND');
    }
    expect(cloudPhone('wx-nobody')).toBeUndefined();
    expect(await staffStatus(token)).toMatchObject({ status: 200, body: ok({}) });
    // A name with spaces around it is the name.
    expect((await bindStaff(token, { name: ' 张伟 ', phone: STAFF.zhangwei.phone, sms_code: await codeFor(STAFF.zhangwei.phone) })).status).toBe(200);
  });

  it('finds the employee among many with the same name prefix', async () => {
    for (let i = 0; i < 150; i++)
      h.sims.koala.addEmployee({ id: 4000 + i, name: `员工${i}`, phone: `1370000${String(i).padStart(4, '0')}`, department: '大部门', avatar: '', photos: [] });
    const { profile } = await staffSession('wx-late-page', { name: '员工149', phone: '13700000149' });
    expect(profile).toEqual({ subject_id: 4149, name: '员工149', department: '大部门', avatar: '', phone: '13700000149' });
  });
});

describe('3.1 for a phone bound elsewhere, and what Koala says later', () => {
  it('not bound: {}; bound to someone Koala does not employ: 404 STAFF_NOT_FOUND', async () => {
    expect(await staffStatus(await h.session('wx-unbound'))).toMatchObject({ status: 200, body: ok({}) });
    const visitor = await h.bound('wx-visitor-only', '13900000701');
    expectFailure(await staffStatus(visitor), 404, 'STAFF_NOT_FOUND');
  });

  it('a phone bound elsewhere is found by paging through the employees once, then remembered', async () => {
    for (let i = 0; i < 150; i++)
      h.sims.koala.addEmployee({ id: 5000 + i, name: `职员${i}`, phone: `1360000${String(i).padStart(4, '0')}`, department: '小部门', avatar: '', photos: [] });
    staleKoala();
    const before = koalaCalls('/subject/list').length;
    const token = await h.bound('wx-elsewhere', '+86 136-0000-0120');
    const res = await staffStatus(token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(ok({ subject_id: 5120, name: '职员120', department: '小部门', avatar: '', phone: '13600000120' }));
    const paged = koalaCalls('/subject/list').slice(before);
    expect(paged.length).toBeGreaterThanOrEqual(2);
    expect(paged.map((r) => r.query.page)).toContain('2');
    for (let i = 0; i < 3; i++) expect((await staffStatus(token)).body).toEqual(res.body);
    expect((await whoAmI(token)).body).toEqual(ok({ type: 'employee', ...res.body.data }));
    expect(koalaCalls('/subject/list').length).toBe(before + paged.length);
    // Another phone bound elsewhere does not page again within the cache period.
    const visitor = await h.bound('wx-elsewhere-visitor', '13900000702');
    expectFailure(await staffStatus(visitor), 404, 'STAFF_NOT_FOUND');
    expect(koalaCalls('/subject/list').length).toBe(before + paged.length);
  });

  it("Koala's untidy free text (a very long name or department) neither breaks the directory nor the binding", async () => {
    const long = '集团总部/华东事业部/研发中心/'.repeat(20);
    h.sims.koala.addEmployee({ id: 1111, name: '长部门', phone: '13800000113', department: long, avatar: '', photos: [] });
    staleKoala();
    const res = await staffStatus(await h.bound('wx-long-department', '13800000113'));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ subject_id: 1111, name: '长部门', phone: '13800000113' });
    expect(long.startsWith(res.body.data.department)).toBe(true);
    h.sims.koala.addEmployee({ id: 1112, name: '名'.repeat(70), phone: '13800000114', avatar: '', photos: [] });
    // A name longer than 3.2 accepts (32) is refused as input, never a 500.
    const tooLong = await bindStaff(await h.session('wx-long-name'), { name: '名'.repeat(70), phone: '13800000114', sms_code: await codeFor('13800000114') });
    expectFailure(tooLong, 400, 'VALIDATION_FAILED');
    expect(tooLong.body.err_msg).toContain('name');
  });

  it('an employee Koala no longer has is forgotten: 404 STAFF_NOT_FOUND, and 3.6 says visitor', async () => {
    h.sims.koala.addEmployee({ id: 1106, name: '离职', phone: '13800000107', department: '研发部', avatar: '', photos: [] });
    const { token, profile } = await staffSession('wx-leaver', { name: '离职', phone: '13800000107' });
    expect((await staffStatus(token)).body).toEqual(ok(profile));
    h.sims.koala.removeSubject(1106);
    staleKoala();
    expectFailure(await staffStatus(token), 404, 'STAFF_NOT_FOUND');
    expect((await whoAmI(token)).body.data).toMatchObject({ type: 'visitor', subject_id: -1, department: '', phone: '13800000107' });
    expect(h.sims.koala.server.received.some((r) => r.path === '/subject/1106')).toBe(true);
  });

  it('a remembered employee is re-read from Koala on every lookup: removed just now → 404 at once', async () => {
    h.sims.koala.addEmployee({ id: 1108, name: '刚走', phone: '13800000110', department: '研发部', avatar: '', photos: [] });
    const { token } = await staffSession('wx-just-left', { name: '刚走', phone: '13800000110' });
    expect((await staffStatus(token)).status).toBe(200);
    h.sims.koala.removeSubject(1108);
    // No clock moved: §3.1 re-reads GET /subject/{id}, so the removal is seen immediately.
    expectFailure(await staffStatus(token), 404, 'STAFF_NOT_FOUND');
  });

  it('an employee whose phone changed in Koala is not found under the old phone', async () => {
    const e = h.sims.koala.addEmployee({ id: 1107, name: '换号', phone: '13800000108', avatar: '', photos: [] });
    const { token } = await staffSession('wx-new-number', { name: '换号', phone: '13800000108' });
    h.sims.koala.removeSubject(1107);
    h.sims.koala.addEmployee({ ...e, phone: '13800000109' });
    staleKoala();
    expectFailure(await staffStatus(token), 404, 'STAFF_NOT_FOUND');
  });

  it('concurrent first requests for a phone bound elsewhere page once and land the picture once', async () => {
    h.sims.koala.addImage('/static/upload/avatar/crowd.png', solidPng([7, 7, 7]));
    h.sims.koala.addEmployee({ id: 1110, name: '并发', phone: '13800000112', department: '研发部', avatar: '/static/upload/avatar/crowd.png', photos: [] });
    staleKoala();
    const tokens = await Promise.all([1, 2, 3, 4, 5].map((i) => h.bound(`wx-crowd-${i}`, '13800000112')));
    const before = koalaCalls('/subject/list').length;
    const answers = await Promise.all(tokens.flatMap((t) => [staffStatus(t), whoAmI(t)]));
    for (const a of answers) expect(a.status).toBe(200);
    const avatars = new Set(answers.map((a) => a.body.data.avatar));
    expect(avatars.size).toBe(1);
    expect([...avatars][0]).toMatch(OUR_FILE);
    expect(koalaHits('/static/upload/avatar/crowd.png')).toBe(1);
    const pages = koalaCalls('/subject/list').slice(before);
    expect(new Set(pages.map((r) => r.query.page)).size).toBe(pages.length); // each page read once
  });

  it('Koala down after a successful lookup: 3.1 and 3.6 answer from what was remembered', async () => {
    const { token, profile } = await staffSession('wx-koala-down', STAFF.zhangwei);
    const faults = [
      { status: 0 },
      { status: 500 },
      { status: 502, body: '<html>bad gateway</html>', contentType: 'text/html' },
      { status: 200, body: '{"code":-1,"desc":"database error"}' },
    ];
    for (const f of faults) {
      h.sims.koala.server.setFault(f);
      try {
        expect((await staffStatus(token)).body).toEqual(ok(profile));
        staleKoala();
        const before = h.sims.koala.server.received.length;
        const res = await staffStatus(token);
        expect([f, res.status, res.body]).toEqual([f, 200, ok(profile)]);
        expect((await whoAmI(token)).body).toEqual(ok({ type: 'employee', ...profile }));
        expect(h.sims.koala.server.received.length).toBeGreaterThan(before); // it did ask
      } finally {
        h.sims.koala.server.setFault(null);
      }
    }
  });

  it('Koala down: a phone the last pass through the employees did not have is still not staff (3.1 404, 3.6 visitor)', async () => {
    const visitor = await h.bound('wx-koala-down-visitor', '13900000703');
    expectFailure(await staffStatus(visitor), 404, 'STAFF_NOT_FOUND');
    staleKoala();
    h.sims.koala.server.setFault({ status: 0 });
    try {
      expectFailure(await staffStatus(visitor), 404, 'STAFF_NOT_FOUND');
      expect((await whoAmI(visitor)).body.data).toMatchObject({ type: 'visitor', subject_id: -1, phone: '13900000703' });
    } finally {
      h.sims.koala.server.setFault(null);
    }
  });

  it('Koala down with nothing remembered: 503, and the binding attempt leaves its code valid', async () => {
    h.sims.koala.addEmployee({ id: 1108, name: '新人', phone: '13800000110', department: '研发部', avatar: '', photos: [] });
    const token = await h.session('wx-newcomer');
    const code = await codeFor('13800000110');
    h.sims.koala.server.setFault({ status: 0 });
    try {
      expectFailure(await bindStaff(token, { name: '新人', phone: '13800000110', sms_code: code }), 503, 'UPSTREAM_UNAVAILABLE');
    } finally {
      h.sims.koala.server.setFault(null);
    }
    expect(cloudPhone('wx-newcomer')).toBeUndefined();
    expect((await bindStaff(token, { name: '新人', phone: '13800000110', sms_code: code })).status).toBe(200);
  });

  it('an expired Koala session is renewed with one login, transparently (401 or an HTML login page)', async () => {
    const { token, profile } = await staffSession('wx-relogin', STAFF.lina);
    for (const mode of ['status', 'html'] as const) {
      h.sims.koala.setExpiredAnswer(mode);
      try {
        h.sims.koala.expireSessions();
        staleKoala();
        const logins = h.sims.koala.logins;
        expect((await staffStatus(token)).body).toEqual(ok(profile));
        expect(h.sims.koala.logins).toBe(logins + 1);
        // And for a binding, which always asks Koala.
        h.sims.koala.expireSessions();
        const again = await bindStaff(token, { name: '李娜', phone: STAFF.lina.phone, sms_code: await codeFor(STAFF.lina.phone) });
        expect(again.body).toEqual(ok(profile));
        expect(h.sims.koala.logins).toBe(logins + 2);
      } finally {
        h.sims.koala.setExpiredAnswer('status');
      }
    }
  });
});

describe('SMS codes guarding the bindings (3.0 → 3.2, 3.4)', () => {
  it('the code is checked first: a wrong or missing code is 400 SMS_CODE_INVALID even for a non-employee, and Koala is not asked', async () => {
    const token = await h.session('wx-guess');
    const before = koalaCalls('/subject/').length;
    for (const body of [
      { name: '无名', phone: '13900000801', sms_code: '123456' },
      { name: '无名', phone: '13900000801' },
      { name: '张伟', phone: STAFF.zhangwei.phone, sms_code: '000000' },
      { name: '张伟', phone: STAFF.zhangwei.phone },
      { name: '张伟', phone: STAFF.zhangwei.phone, sms_code: '' },
      { name: '张伟', phone: STAFF.zhangwei.phone, sms_code: 'abcdef' },
      { name: '张伟', phone: STAFF.zhangwei.phone, sms_code: '1234567' },
    ]) {
      const res = await bindStaff(token, body);
      expect([body, res.status, res.body.error]).toEqual([body, 400, 'SMS_CODE_INVALID']);
      expect(res.body.code).toBe(400);
    }
    expect(koalaCalls('/subject/').length).toBe(before);
    expectFailure(await bindVisitor(token, { phone: '13900000801', sms_code: '123456' }), 400, 'SMS_CODE_INVALID');
    expectFailure(await bindVisitor(token, { phone: '13900000801' }), 400, 'SMS_CODE_INVALID');
    expect(cloudPhone('wx-guess')).toBeUndefined();
  });

  it('a code is for its phone only', async () => {
    const token = await h.session('wx-other-phone');
    const code = await codeFor('13900000802');
    expectFailure(await bindVisitor(token, { phone: '13900000803', sms_code: code }), 400, 'SMS_CODE_INVALID');
    expectFailure(await bindStaff(token, { name: '张伟', phone: STAFF.zhangwei.phone, sms_code: code }), 400, 'SMS_CODE_INVALID');
    expect((await bindVisitor(token, { phone: '139 0000 0802', sms_code: code })).status).toBe(200);
  });

  it('4 wrong tries leave the code valid; the 5th spends it', async () => {
    const token = await h.session('wx-tries');
    const phone = '13900000804';
    // The binder asked for the code: its own wrong tries count one by one.
    let code = await codeFor(phone, token);
    const wrong = code === '111111' ? '222222' : '111111';
    for (let i = 0; i < 4; i++) expectFailure(await bindVisitor(token, { phone, sms_code: wrong }), 400, 'SMS_CODE_INVALID');
    expect((await bindVisitor(token, { phone, sms_code: code })).status).toBe(200);

    code = await codeFor(phone, token);
    for (let i = 0; i < 5; i++) expectFailure(await bindStaff(token, { name: '无名', phone, sms_code: wrong }), 400, 'SMS_CODE_INVALID');
    expectFailure(await bindVisitor(token, { phone, sms_code: code }), 400, 'SMS_CODE_INVALID');
    // A new code works again.
    expect((await bindVisitor(token, { phone, sms_code: await codeFor(phone, token) })).status).toBe(200);
  });

  it('a code is valid for 5 minutes', async () => {
    const token = await h.session('wx-expiry');
    const phone = '13900000805';
    let code = await codeFor(phone);
    offset += 5 * 60_000 - 2_000;
    expect((await bindVisitor(token, { phone, sms_code: code })).status).toBe(200);
    code = await codeFor(phone);
    offset += 5 * 60_000;
    expectFailure(await bindVisitor(token, { phone, sms_code: code }), 400, 'SMS_CODE_INVALID');
  });

  it('a successful binding spends its code', async () => {
    const code = await codeFor(STAFF.wangfang.phone);
    const first = await h.session('wx-spend-1');
    expect((await bindStaff(first, { name: '王芳', phone: STAFF.wangfang.phone, sms_code: code })).status).toBe(200);
    const second = await h.session('wx-spend-2');
    expectFailure(await bindStaff(second, { name: '王芳', phone: STAFF.wangfang.phone, sms_code: code }), 400, 'SMS_CODE_INVALID');
    expectFailure(await bindStaff(first, { name: '王芳', phone: STAFF.wangfang.phone, sms_code: code }), 400, 'SMS_CODE_INVALID');
    expectFailure(await bindVisitor(second, { phone: STAFF.wangfang.phone, sms_code: code }), 400, 'SMS_CODE_INVALID');
    expect(cloudPhone('wx-spend-2')).toBeUndefined();

    const vcode = await codeFor('13900000806');
    expect((await bindVisitor(second, { phone: '13900000806', sms_code: vcode })).status).toBe(200);
    expectFailure(await bindVisitor(await h.session('wx-spend-3'), { phone: '13900000806', sms_code: vcode }), 400, 'SMS_CODE_INVALID');
  });

  it('one code binds once, even when used by concurrent requests', async () => {
    const code = await codeFor('13900000809');
    const tokens = await Promise.all(['wx-race-1', 'wx-race-2', 'wx-race-3'].map((id) => h.session(id)));
    const results = await Promise.all(tokens.map((t) => bindVisitor(t, { phone: '13900000809', sms_code: code })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400]);
    for (const r of results.filter((x) => x.status !== 200)) expectFailure(r, 400, 'SMS_CODE_INVALID');
    expect(h.sims.cloud.bindings().filter((b) => b.phone === '13900000809')).toHaveLength(1);

    const staffCode = await codeFor(STAFF.wangfang.phone);
    const staffTokens = await Promise.all(['wx-race-4', 'wx-race-5'].map((id) => h.session(id)));
    const staffResults = await Promise.all(staffTokens.map((t) => bindStaff(t, { name: '王芳', phone: STAFF.wangfang.phone, sms_code: staffCode })));
    expect(staffResults.map((r) => r.status).sort()).toEqual([200, 400]);
    expect(['wx-race-4', 'wx-race-5'].filter((id) => cloudPhone(id))).toHaveLength(1);

    // Wrong tries running beside the right one do not bring the spent code back.
    const mixed = await codeFor('13900000810');
    const wrong = mixed === '111111' ? '222222' : '111111';
    const racers = await Promise.all([1, 2, 3, 4].map((i) => h.session(`wx-mixed-${i}`)));
    const outcomes = await Promise.all(racers.map((t, i) => bindVisitor(t, { phone: '13900000810', sms_code: i === 0 ? mixed : wrong })));
    expect(outcomes.map((r) => r.status)).toEqual([200, 400, 400, 400]);
    expectFailure(await bindVisitor(racers[1]!, { phone: '13900000810', sms_code: mixed }), 400, 'SMS_CODE_INVALID');
  });

  it('a binding refused with STAFF_NOT_FOUND leaves the code valid', async () => {
    const token = await h.session('wx-typo');
    const code = await codeFor(STAFF.liuyang.phone);
    expectFailure(await bindStaff(token, { name: '刘阳', phone: STAFF.liuyang.phone, sms_code: code }), 404, 'STAFF_NOT_FOUND');
    expect(cloudPhone('wx-typo')).toBeUndefined();
    expect((await bindStaff(token, { name: '刘洋', phone: STAFF.liuyang.phone, sms_code: code })).status).toBe(200);
    expect(cloudPhone('wx-typo')).toBe(STAFF.liuyang.phone);
  });

  it('a binding refused because the cloud service is down (503) or failing (502) leaves the code valid', async () => {
    const token = await h.session('wx-cloud-down');
    const code = await codeFor(STAFF.zhangwei.phone);
    h.sims.cloud.server.setFault({ status: 0, times: 1, path: '/v2/wechat/binding' });
    expectFailure(await bindStaff(token, { name: '张伟', phone: STAFF.zhangwei.phone, sms_code: code }), 503, 'UPSTREAM_UNAVAILABLE');
    h.sims.cloud.server.setFault({ status: 504, times: 1, path: '/v2/wechat/binding' });
    expectFailure(await bindStaff(token, { name: '张伟', phone: STAFF.zhangwei.phone, sms_code: code }), 503, 'UPSTREAM_UNAVAILABLE');
    h.sims.cloud.server.setFault({ status: 500, times: 1, path: '/v2/wechat/binding' });
    expectFailure(await bindStaff(token, { name: '张伟', phone: STAFF.zhangwei.phone, sms_code: code }), 502, 'UPSTREAM_FAILED');
    h.sims.cloud.server.setFault({ status: 200, times: 1, path: '/v2/wechat/binding', body: '{"code":500,"err_msg":"internal"}' });
    expectFailure(await bindStaff(token, { name: '张伟', phone: STAFF.zhangwei.phone, sms_code: code }), 502, 'UPSTREAM_FAILED');
    expect(cloudPhone('wx-cloud-down')).toBeUndefined();
    expect((await bindStaff(token, { name: '张伟', phone: STAFF.zhangwei.phone, sms_code: code })).status).toBe(200);

    const vcode = await codeFor('13900000807');
    h.sims.cloud.server.setFault({ status: 0, times: 1, path: '/v2/wechat/binding' });
    expectFailure(await bindVisitor(token, { phone: '13900000807', sms_code: vcode }), 503, 'UPSTREAM_UNAVAILABLE');
    expect(cloudPhone('wx-cloud-down')).toBe(STAFF.zhangwei.phone);
    expect((await bindVisitor(token, { phone: '13900000807', sms_code: vcode })).status).toBe(200);
    expect(cloudPhone('wx-cloud-down')).toBe('13900000807');
  });
});

describe('3.3 / 3.4 visitor binding', () => {
  it('not bound: {}; bound: {nick, avatar, phone} as WeChat has them', async () => {
    const token = await h.session('wx-visitor');
    expect(await visitorStatus(token)).toMatchObject({ status: 200, body: ok({}) });
    const res = await bindVisitor(token, { phone: '+86 139-0000-0901', sms_code: await codeFor('13900000901'), weixinUserId: 'wx-visitor' });
    const wechat = h.sims.cloud.bindings().find((b) => b.weixinUserId === 'wx-visitor')!;
    expect(res.status).toBe(200);
    expect(res.body).toEqual(ok({ nick: wechat.nick, avatar: wechat.avatar, phone: '13900000901' }));
    expect(res.body.data.nick).not.toBe('');
    expect(res.body.data.avatar).toMatch(/^http/);
    expect((await visitorStatus(token)).body).toEqual(res.body);
    // A visitor is not staff.
    expectFailure(await staffStatus(token), 404, 'STAFF_NOT_FOUND');
  });

  it('a binding made elsewhere, in any phone format, reads as the 11 digits', async () => {
    const token = await h.bound('wx-visitor-elsewhere', '+86 139-0000-0902');
    const res = await visitorStatus(token);
    expect(res.body).toEqual(ok({ nick: expect.any(String), avatar: expect.any(String), phone: '13900000902' }));
  });

  it('a binding made elsewhere right after a "not bound" answer is seen at once; an unbinding elsewhere within seconds', async () => {
    const token = await h.session('wx-late-bind');
    expect((await visitorStatus(token)).body).toEqual(ok({}));
    expectFailure(await whoAmI(token), 404, 'NOT_BOUND');
    h.sims.cloud.bind('wx-late-bind', '13900000908');
    expect((await visitorStatus(token)).body.data).toMatchObject({ phone: '13900000908' });
    expect((await whoAmI(token)).body.data).toMatchObject({ type: 'visitor', phone: '13900000908' });
    await fetch(`${h.sims.cloud.url}/v2/wechat/binding/wx-late-bind`, { method: 'DELETE' });
    offset += 11_000;
    expect((await visitorStatus(token)).body).toEqual(ok({}));
  });

  it('the same binding serves the staff and the visitor routes', async () => {
    const { token, profile } = await staffSession('wx-both', STAFF.liuyang);
    expect((await visitorStatus(token)).body.data).toEqual({ nick: expect.any(String), avatar: expect.any(String), phone: profile.phone });
  });
});

describe('3.5 unbind', () => {
  it('unbinds the own WeChat: {} and the cloud service no longer has it; its sessions end; then nothing is bound', async () => {
    const { token: old } = await staffSession('wx-leaving', STAFF.lina);
    expect(cloudPhone('wx-leaving')).toBe(STAFF.lina.phone);
    expect(await unbind(old, 'wx-leaving')).toMatchObject({ status: 200, body: ok({}) });
    expect(cloudPhone('wx-leaving')).toBeUndefined();
    expect(h.sims.cloud.server.received.some((r) => r.method === 'DELETE' && r.path === '/v2/wechat/binding/wx-leaving')).toBe(true);
    // Every session of that WeChat ended with the binding (test/security/session-revocation.test.ts).
    expectFailure(await staffStatus(old), 401, 'UNAUTHENTICATED');
    const token = await h.session('wx-leaving');
    expect((await staffStatus(token)).body).toEqual(ok({}));
    expect((await visitorStatus(token)).body).toEqual(ok({}));
    expectFailure(await whoAmI(token), 404, 'NOT_BOUND');
    // Unbinding what is not bound is fine too.
    expect(await unbind(token, 'wx-leaving')).toMatchObject({ status: 200, body: ok({}) });
    expect(await unbind(await h.session('wx-never-bound'), 'wx-never-bound')).toMatchObject({ status: 200, body: ok({}) });
  });

  it("someone else's WeChat is 403 FORBIDDEN and stays bound", async () => {
    h.sims.cloud.bind('wx-victim', '13900000903');
    const token = await h.bound('wx-attacker', '13900000904');
    expectFailure(await unbind(token, 'wx-victim'), 403, 'FORBIDDEN');
    expect(cloudPhone('wx-victim')).toBe('13900000903');
    expect(cloudPhone('wx-attacker')).toBe('13900000904');
  });

  it('the cloud service down: 503, and the binding is still there', async () => {
    const token = await h.bound('wx-stuck', '13900000905');
    expect((await visitorStatus(token)).body.data.phone).toBe('13900000905');
    h.sims.cloud.server.setFault({ status: 0, times: 1 });
    expectFailure(await unbind(token, 'wx-stuck'), 503, 'UPSTREAM_UNAVAILABLE');
    expect(cloudPhone('wx-stuck')).toBe('13900000905');
    expect((await visitorStatus(token)).body.data.phone).toBe('13900000905');
  });
});

describe('3.6 who am I', () => {
  it('an employee', async () => {
    const { token, profile } = await staffSession('wx-who-staff', STAFF.zhangwei);
    const res = await whoAmI(token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(ok({ type: 'employee', name: '张伟', department: '研发部', subject_id: 1001, avatar: profile.avatar, phone: '13800000001' }));
  });

  it('a visitor: name is the WeChat nickname, department "", subject_id -1, the WeChat avatar', async () => {
    const token = await h.bound('wx-who-visitor', '13900000906');
    const wechat = h.sims.cloud.bindings().find((b) => b.weixinUserId === 'wx-who-visitor')!;
    const res = await whoAmI(token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(ok({ type: 'visitor', name: wechat.nick, department: '', subject_id: -1, avatar: wechat.avatar, phone: '13900000906' }));
  });

  it('not bound: 404 NOT_BOUND', async () => {
    expectFailure(await whoAmI(await h.session('wx-who-nobody')), 404, 'NOT_BOUND');
  });
});

describe('BIND_VERIFY_PHONE=false', () => {
  let h2: Harness;
  beforeAll(async () => {
    h2 = await startHarness({ env: { BIND_VERIFY_PHONE: 'false' } });
  });
  afterAll(async () => {
    await h2?.close();
  });

  it('bindings need no code (and ignore one)', async () => {
    const token = await h2.session('wx-free');
    const staff = await h2.request('POST', '/v1/subject/binding', { token, body: { name: '张伟', phone: STAFF.zhangwei.phone } });
    expect(staff.status).toBe(200);
    expect(staff.body.data).toMatchObject({ subject_id: 1001, phone: STAFF.zhangwei.phone, avatar: expect.stringMatching(OUR_FILE) });
    const visitor = await h2.request('POST', '/v1/visitor/binding', { token, body: { phone: '13900000907', sms_code: '000000' } });
    expect(visitor.status).toBe(200);
    expect(visitor.body.data.phone).toBe('13900000907');
    expect(h2.sims.sms.server.received).toEqual([]);
    // Koala still decides who is staff.
    expectFailure(await h2.request('POST', '/v1/subject/binding', { token, body: { name: '张三', phone: STAFF.zhangwei.phone } }), 404, 'STAFF_NOT_FOUND');
  });

  it('Koala down before it was ever read through: who is staff cannot be told (503)', async () => {
    const token = await h2.bound('wx-first-visitor', '13900000908');
    h2.sims.koala.server.setFault({ status: 0 });
    try {
      expectFailure(await h2.request('GET', '/v1/wechat/is_binding', { token }), 503, 'UPSTREAM_UNAVAILABLE');
      expectFailure(await h2.request('GET', '/v1/subject/binding', { token }), 503, 'UPSTREAM_UNAVAILABLE');
      // The visitor's own page does not need Koala.
      expect((await h2.request('GET', '/v1/visitor/binding', { token })).body.data.phone).toBe('13900000908');
    } finally {
      h2.sims.koala.server.setFault(null);
    }
    expect((await h2.request('GET', '/v1/wechat/is_binding', { token })).body.data).toMatchObject({ type: 'visitor' });
  });
});
