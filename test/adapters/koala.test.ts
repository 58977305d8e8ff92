import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKoalaClient } from '../../src/adapters/koala/client.js';
import { PNG_SIGNATURE } from '../../src/adapters/koala/demo-data.js';
import { startKoalaSimulator, type KoalaSimulator } from '../../src/adapters/koala/simulator.js';
import type { KoalaPort } from '../../src/adapters/koala/port.js';
import { UpstreamError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';

let sim: KoalaSimulator;
const logLines: string[] = [];
const logger = createLogger(
  'debug',
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  }),
);

function client(overrides: { password?: string; timeoutMs?: number } = {}): KoalaPort {
  return createKoalaClient({
    baseUrl: sim.url,
    username: sim.username,
    password: overrides.password ?? sim.password,
    timeoutMs: overrides.timeoutMs ?? 2000,
    logger,
  });
}

async function upstreamError(p: Promise<unknown>): Promise<UpstreamError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpstreamError);
  return err as UpstreamError;
}

const requests = (path: string) => sim.server.received.filter((r) => r.path === path);

beforeAll(async () => {
  sim = await startKoalaSimulator();
});
afterAll(async () => {
  await sim.close();
});
afterEach(() => {
  sim.server.setFault(null);
  sim.setExpiredAnswer('status');
});

describe('session', () => {
  it('logs in lazily with JSON and the Koala Admin User-Agent, then sends the cookies back', async () => {
    const before = sim.logins;
    const koala = client();
    expect(sim.logins).toBe(before);
    await koala.searchEmployees('张', 1, 10);
    await koala.getEmployee(1001);
    expect(sim.logins).toBe(before + 1);
    const login = requests('/auth/login').at(-1);
    expect(login?.headers['user-agent']).toBe('Koala Admin');
    expect(login?.body).toEqual({ username: sim.username, password: sim.password });
    const detail = requests('/subject/1001').at(-1);
    expect(detail?.headers['user-agent']).toBe('Koala Admin');
    expect(String(detail?.headers.cookie)).toMatch(/^session=[0-9a-f]{32}; koala_lang=zh_CN$/);
  });

  it('the simulator refuses a login without the Koala Admin User-Agent', async () => {
    const res = await fetch(`${sim.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: sim.username, password: sim.password }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('the simulator refuses API calls without a session', async () => {
    const res = await fetch(`${sim.url}/subject/list?category=employee`, { headers: { 'user-agent': 'Koala Admin' } });
    expect(res.status).toBe(401);
  });

  it('logs in again once after a 401 and then succeeds', async () => {
    const koala = client();
    await koala.getEmployee(1001);
    const before = sim.logins;
    sim.expireSessions();
    expect((await koala.getEmployee(1001))?.name).toBe('张伟');
    expect(sim.logins).toBe(before + 1);
  });

  it('logs in again once after an HTML login page and then succeeds', async () => {
    const koala = client();
    await koala.getEmployee(1001);
    const before = sim.logins;
    sim.setExpiredAnswer('html');
    sim.expireSessions();
    const page = await koala.searchEmployees('李娜', 1, 10);
    expect(page.items.map((e) => e.name)).toEqual(['李娜']);
    expect(sim.logins).toBe(before + 1);
  });

  it('a session past its lifetime is renewed', async () => {
    let now = Date.now();
    const shortLived = await startKoalaSimulator({ sessionTtlMs: 60_000, now: () => now });
    try {
      const koala = createKoalaClient({ baseUrl: shortLived.url, username: shortLived.username, password: shortLived.password, timeoutMs: 2000, logger });
      await koala.getEmployee(1001);
      now += 60_001;
      expect((await koala.getEmployee(1002))?.name).toBe('李娜');
      expect(shortLived.logins).toBe(2);
    } finally {
      await shortLived.close();
    }
  });

  it('does not retry forever when the new session is refused too', async () => {
    const koala = client();
    await koala.getEmployee(1001);
    const before = sim.logins;
    const calls = requests('/subject/1002').length;
    sim.server.setFault({ path: '/subject/1002', status: 401, body: '{"code":-401,"desc":"请先登录"}' });
    const err = await upstreamError(koala.getEmployee(1002));
    expect(err.code).toBe('UPSTREAM_FAILED');
    expect(sim.logins).toBe(before + 1);
    expect(requests('/subject/1002').length - calls).toBe(2);
  });

  it('a wrong password is UPSTREAM_FAILED, and the password is never logged', async () => {
    const err = await upstreamError(client({ password: 'wrong-password-xyz' }).getEmployee(1001));
    expect(err.code).toBe('UPSTREAM_FAILED');
    expect(err.providerCode).toBe('-101');
    expect(logLines.join('')).not.toContain('wrong-password-xyz');
    expect(logLines.join('')).not.toContain(sim.password);
  });

  it('concurrent first calls share one login', async () => {
    const koala = client();
    const before = sim.logins;
    sim.server.setFault({ path: '/auth/login', delayMs: 100, times: 1 });
    await Promise.all([koala.getEmployee(1001), koala.getEmployee(1002), koala.searchEmployees('', 1, 5), koala.listPurposes(), koala.getEmployee(1003)]);
    expect(sim.logins).toBe(before + 1);
  });

  it('concurrent calls on an expired session share one new login', async () => {
    const koala = client();
    await koala.getEmployee(1001);
    const before = sim.logins;
    sim.expireSessions();
    await Promise.all([koala.getEmployee(1001), koala.getEmployee(1002), koala.getEmployee(1003)]);
    expect(sim.logins).toBe(before + 1);
  });
});

describe('employees', () => {
  it('searches by name, normalises phones and reads the page the Koala way', async () => {
    const page = await client().searchEmployees('', 1, 100);
    const byName = Object.fromEntries(page.items.map((e) => [e.name, e]));
    expect(byName['张伟']?.phone).toBe('13800000001');
    expect(byName['李娜']?.phone).toBe('13800000002'); // a number in Koala
    expect(byName['王芳']?.phone).toBe('13800000003'); // "+86 138-0000-0003"
    expect(byName['刘洋']?.phone).toBe('13800000004'); // "8613800000004"
    expect(byName['陈静']?.phone).toBe('13800000005'); // "138 0000 0005"
    expect(byName['张敏']?.phone).toBe('13800000006'); // "0086-13800000006"
    expect(byName['孙悦']).toBeUndefined(); // a visitor, not staff
    expect(byName['刘洋']?.department).toBe(''); // Koala omits the field

    const zhang = await client().searchEmployees('张', 2, 1);
    expect(zhang.items.map((e) => e.name)).toEqual(['张敏']);
    expect(zhang.page).toEqual({ count: 2, current: 2, size: 1, total: 2 });
  });

  it('phones that are not mainland mobiles become ""', async () => {
    sim.addEmployee({ id: 1101, name: '号码怪', phone: '010-12345678' });
    sim.addEmployee({ id: 1102, name: '号码空', phone: null });
    const koala = client();
    expect((await koala.getEmployee(1101))?.phone).toBe('');
    expect((await koala.getEmployee(1102))?.phone).toBe('');
  });

  it('resolves avatars: relative path, absolute URL, photos[0] fallback, none', async () => {
    sim.addEmployee({ id: 1103, name: '无头像', phone: '13800000103', avatar: '', photos: [] });
    const koala = client();
    expect((await koala.getEmployee(1001))?.avatarUrl).toBe(`${sim.url}/static/upload/avatar/zhangwei.png`);
    expect((await koala.getEmployee(1004))?.avatarUrl).toBe(`${sim.url}/static/upload/avatar/liuyang.png`);
    expect((await koala.getEmployee(1003))?.avatarUrl).toBe(`${sim.url}/static/upload/photo/wangfang.png`);
    expect((await koala.getEmployee(1103))?.avatarUrl).toBe('');
  });

  it('getEmployee is null for a missing subject, a visitor, or a "not found" envelope', async () => {
    const koala = client();
    expect(await koala.getEmployee(999_999)).toBeNull(); // HTTP 404
    expect(await koala.getEmployee(2001)).toBeNull(); // subject_type 1
    sim.server.setFault({ path: '/subject/888888', status: 200, body: '{"code":-1,"desc":"Subject not found"}' });
    expect(await koala.getEmployee(888_888)).toBeNull();
    sim.server.setFault({ path: '/subject/777777', status: 200, body: '{"code":0,"data":null}' });
    expect(await koala.getEmployee(777_777)).toBeNull();
  });

  it('an employee removed from Koala is gone', async () => {
    const added = sim.addEmployee({ name: '将离职', phone: '13800000104' });
    const koala = client();
    expect((await koala.getEmployee(added.id))?.name).toBe('将离职');
    sim.removeSubject(added.id);
    expect(await koala.getEmployee(added.id)).toBeNull();
  });
});

describe('purposes', () => {
  afterAll(() => sim.setPurposes([{ label: '其它', value: 0 }]));

  it('reads the list Koala has', async () => {
    sim.setPurposes([
      { label: '其它', value: 0 },
      { label: '面试', value: 1 },
    ]);
    expect(await client().listPurposes()).toEqual([
      { label: '其它', value: 0 },
      { label: '面试', value: 1 },
    ]);
  });

  it('accepts the other shapes Koala versions send', async () => {
    const koala = client();
    sim.setPurposes([
      { name: '商务', id: 2 },
      { purpose: '亲友', id: '3' },
    ]);
    expect(await koala.listPurposes()).toEqual([
      { label: '商务', value: 2 },
      { label: '亲友', value: 3 },
    ]);
    sim.setPurposes({ purposes: ['其它', '面试'] });
    expect(await koala.listPurposes()).toEqual([
      { label: '其它', value: 0 },
      { label: '面试', value: 1 },
    ]);
    sim.setPurposes({ '0': '其它', '4': '快递送货' });
    expect(await koala.listPurposes()).toEqual([
      { label: '其它', value: 0 },
      { label: '快递送货', value: 4 },
    ]);
  });

  it('is null when Koala has none', async () => {
    sim.setPurposes(null);
    expect(await client().listPurposes()).toBeNull();
    sim.setPurposes([]);
    expect(await client().listPurposes()).toBeNull();
  });
});

describe('visitors', () => {
  it('creates a visitor subject and deletes it; deleting again succeeds', async () => {
    const koala = client();
    const id = await koala.createVisitor({
      name: '王五',
      phone: '13900000001',
      startTime: 1_900_000_000,
      endTime: 1_900_007_200,
      interviewee: '张伟',
      purpose: 2,
      comeFrom: '某某公司',
      remark: '带电脑',
    });
    const stored = sim.subjects().find((s) => s.id === id);
    expect(stored).toMatchObject({
      subject_type: 1,
      name: '王五',
      phone: '13900000001',
      start_time: 1_900_000_000,
      end_time: 1_900_007_200,
      interviewee: '张伟',
      purpose: 2,
      come_from: '某某公司',
      remark: '带电脑',
    });
    const listed = (await (await fetch(`${sim.url}/__sim/koala/subjects`)).json()) as Array<{ id: number }>;
    expect(listed.some((s) => s.id === id)).toBe(true);
    await koala.deleteSubject(id);
    expect(sim.subjects().some((s) => s.id === id)).toBe(false);
    await expect(koala.deleteSubject(id)).resolves.toBeUndefined();
  });

  it('a refusal in the envelope is UPSTREAM_FAILED', async () => {
    const err = await upstreamError(
      client().createVisitor({ name: '王五', phone: '13900000001', startTime: 1_900_007_200, endTime: 1_900_000_000, interviewee: '张伟' }),
    );
    expect(err.code).toBe('UPSTREAM_FAILED');
    expect(err.providerCode).toBe('-1');
  });
});

describe('failures', () => {
  it('a Koala that does not answer in time is UPSTREAM_UNAVAILABLE, quickly', async () => {
    const koala = client({ timeoutMs: 150 });
    await koala.getEmployee(1001);
    sim.server.setFault({ path: '/subject/list', delayMs: 1000, times: 1 });
    const started = Date.now();
    const err = await upstreamError(koala.searchEmployees('张', 1, 10));
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(800);
  });

  it('a dropped connection is UPSTREAM_UNAVAILABLE', async () => {
    sim.server.setFault({ path: '/subject/list', status: 0, times: 1 });
    expect((await upstreamError(client().searchEmployees('张', 1, 10))).code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('HTTP 500 is UPSTREAM_FAILED, 503 is UPSTREAM_UNAVAILABLE', async () => {
    const koala = client();
    sim.server.setFault({ path: '/subject/list', status: 500, times: 1 });
    expect((await upstreamError(koala.searchEmployees('张', 1, 10))).code).toBe('UPSTREAM_FAILED');
    sim.server.setFault({ path: '/subject/list', status: 503, times: 1, contentType: 'text/html', body: '<h1>503</h1>' });
    expect((await upstreamError(koala.searchEmployees('张', 1, 10))).code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('a login that times out is UPSTREAM_UNAVAILABLE', async () => {
    sim.server.setFault({ path: '/auth/login', status: 504, times: 1 });
    expect((await upstreamError(client().getEmployee(1001))).code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('an error envelope with a negative code is UPSTREAM_FAILED', async () => {
    sim.server.setFault({ path: '/subject/list', status: 200, times: 1, body: '{"code":-500,"desc":"database locked"}' });
    const err = await upstreamError(client().searchEmployees('张', 1, 10));
    expect(err.code).toBe('UPSTREAM_FAILED');
    expect(err.providerCode).toBe('-500');
    expect(err.detail).toContain('database locked');
  });
});

describe('images', () => {
  it('fetches a picture without the session cookie', async () => {
    const koala = client();
    const employee = await koala.getEmployee(1003);
    const image = await koala.fetchImage(employee?.avatarUrl ?? '');
    expect(image.contentType).toBe('image/png');
    expect(image.body.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(requests('/static/upload/photo/wangfang.png').at(-1)?.headers.cookie).toBeUndefined();
  });

  it('pictures of different people differ', async () => {
    const koala = client();
    const a = await koala.fetchImage(`${sim.url}/static/upload/avatar/zhangwei.png`);
    const b = await koala.fetchImage(`${sim.url}/static/upload/avatar/lina.png`);
    expect(a.body.equals(b.body)).toBe(false);
  });

  it('a missing picture or one that is not an image is UPSTREAM_FAILED', async () => {
    const koala = client();
    expect((await upstreamError(koala.fetchImage(`${sim.url}/static/upload/avatar/nobody.png`))).code).toBe('UPSTREAM_FAILED');
    sim.addImage('/static/upload/avatar/page.png', Buffer.from('<html></html>'), 'text/html');
    expect((await upstreamError(koala.fetchImage(`${sim.url}/static/upload/avatar/page.png`))).code).toBe('UPSTREAM_FAILED');
  });
});

describe('logs', () => {
  it('never carry a full phone number', () => {
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toMatch(/(?<!\d)1[3-9]\d{9}(?!\d)/);
  });
});
