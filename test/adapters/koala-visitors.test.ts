import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKoalaClient } from '../../src/adapters/koala/client.js';
import type { KoalaPort, KoalaVisitorInput } from '../../src/adapters/koala/port.js';
import { startKoalaSimulator, type KoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { UpstreamError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';

/** Koala visitor writes: POST /subject (subject_type 1) and DELETE /subject/{id}. */

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

const client = (timeoutMs = 2000): KoalaPort => createKoalaClient({ baseUrl: sim.url, username: sim.username, password: sim.password, timeoutMs, logger });

async function upstreamError(p: Promise<unknown>): Promise<UpstreamError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpstreamError);
  return err as UpstreamError;
}

const now = Math.floor(Date.now() / 1000);
const visitor = (over: Partial<KoalaVisitorInput> = {}): KoalaVisitorInput => ({
  name: '王五',
  phone: '13912345678',
  startTime: now + 600,
  endTime: now + 7800,
  interviewee: '张伟',
  purpose: 1,
  comeFrom: '某某公司',
  remark: '来访 #7',
  ...over,
});

const posts = () => sim.server.received.filter((r) => r.method === 'POST' && r.path === '/subject');
const deletes = (id: number) => sim.server.received.filter((r) => r.method === 'DELETE' && r.path === `/subject/${id}`);

beforeAll(async () => {
  sim = await startKoalaSimulator();
});
afterAll(async () => {
  await sim.close();
  expect(sim.server.unexpected).toEqual([]);
});
afterEach(() => {
  sim.server.setFault(null);
  sim.setExpiredAnswer('status');
});

describe('create', () => {
  it('sends the visitor in Koala’s wire shape with the session and returns the new id', async () => {
    const koala = client();
    const id = await koala.createVisitor(visitor());
    const sent = posts().at(-1)!;
    expect(sent.headers['user-agent']).toBe('Koala Admin');
    expect(String(sent.headers.cookie)).toContain('session=');
    expect(sent.body).toEqual({
      subject_type: 1,
      name: '王五',
      phone: '13912345678',
      start_time: now + 600,
      end_time: now + 7800,
      interviewee: '张伟',
      purpose: 1,
      come_from: '某某公司',
      remark: '来访 #7',
    });
    const stored = sim.visitors().find((v) => v.id === id);
    expect(stored).toMatchObject({ subject_type: 1, name: '王五', start_time: now + 600, end_time: now + 7800, interviewee: '张伟' });
  });

  it('the inspection endpoint lists visitors only, and a visitor is never read as an employee', async () => {
    const koala = client();
    const id = await koala.createVisitor(visitor({ name: '赵六' }));
    const listed = (await (await fetch(`${sim.url}/__sim/koala/visitors`)).json()) as Array<{ id: number; subject_type: number }>;
    expect(listed.map((v) => v.id)).toContain(id);
    expect(listed.every((v) => v.subject_type === 1)).toBe(true);
    expect(await koala.getEmployee(id)).toBeNull();
  });

  it('optional fields default the way Koala expects (purpose 0, empty strings)', async () => {
    await client().createVisitor({ name: '孙七', phone: '13912345679', startTime: now, endTime: now + 60, interviewee: '李娜' });
    expect(posts().at(-1)!.body).toMatchObject({ purpose: 0, come_from: '', remark: '' });
  });

  it('logs in again once when the session expired (401 or the HTML login page), then creates once', async () => {
    for (const mode of ['status', 'html'] as const) {
      const koala = client();
      await koala.createVisitor(visitor());
      sim.setExpiredAnswer(mode);
      sim.expireSessions();
      const before = sim.logins;
      const countBefore = sim.visitors().length;
      await koala.createVisitor(visitor({ name: `过期${mode}` }));
      expect(sim.logins).toBe(before + 1);
      expect(sim.visitors().length).toBe(countBefore + 1);
    }
  });

  it('a refusal in Koala’s envelope is UPSTREAM_FAILED and not transient (retrying the same body cannot help)', async () => {
    const err = await upstreamError(client().createVisitor(visitor({ startTime: now + 100, endTime: now + 100 })));
    expect(err.code).toBe('UPSTREAM_FAILED');
    expect(err.transient).toBe(false);
    expect(err.status).toBe(502);
  });

  it('Koala down: 503 and a dropped connection are UPSTREAM_UNAVAILABLE (transient), 500 is UPSTREAM_FAILED but transient', async () => {
    const koala = client();
    await koala.getEmployee(1001); // logged in
    sim.server.setFault({ path: '/subject', status: 503, times: 1 });
    const e503 = await upstreamError(koala.createVisitor(visitor()));
    expect([e503.code, e503.transient]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
    sim.server.setFault({ path: '/subject', status: 0, times: 1 });
    const dropped = await upstreamError(koala.createVisitor(visitor()));
    expect([dropped.code, dropped.transient]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
    sim.server.setFault({ path: '/subject', status: 500, times: 1 });
    const e500 = await upstreamError(koala.createVisitor(visitor()));
    expect([e500.code, e500.transient]).toEqual(['UPSTREAM_FAILED', true]);
  });

  it('a Koala that does not answer in time fails within the deadline', async () => {
    const koala = client(300);
    await koala.getEmployee(1001);
    sim.server.setFault({ path: '/subject', delayMs: 1500, times: 1 });
    const started = Date.now();
    const err = await upstreamError(koala.createVisitor(visitor()));
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(1200);
  });

  it('an answer without a subject id is UPSTREAM_FAILED', async () => {
    const koala = client();
    await koala.getEmployee(1001);
    sim.server.setFault({ path: '/subject', status: 200, times: 1, body: '{"code":0,"data":{}}' });
    expect((await upstreamError(koala.createVisitor(visitor()))).code).toBe('UPSTREAM_FAILED');
  });
});

describe('find', () => {
  it('lists visitors by name with their phone, window and remark; never employees', async () => {
    const koala = client();
    const id = await koala.createVisitor(visitor({ name: '查找甲', phone: '+86 139-1234-5670', remark: '来访 #99' }));
    const found = await koala.findVisitors('查找');
    expect(found).toEqual([{ subjectId: id, name: '查找甲', phone: '13912345670', startTime: now + 600, endTime: now + 7800, remark: '来访 #99' }]);
    const q = sim.server.received.filter((r) => r.path === '/subject/list').at(-1)!;
    expect(q.query).toMatchObject({ category: 'visitor', name: '查找' });
    expect(await koala.findVisitors('张伟')).toEqual([]); // an employee's name
  });
});

describe('delete', () => {
  it('deletes the subject; deleting what is already gone (404 or a "不存在" envelope) succeeds', async () => {
    const koala = client();
    const id = await koala.createVisitor(visitor());
    await koala.deleteSubject(id);
    expect(sim.visitors().some((v) => v.id === id)).toBe(false);
    await koala.deleteSubject(id); // the simulator answers 404
    sim.server.setFault({ path: `/subject/${id}`, status: 200, times: 1, body: '{"code":-1,"desc":"subject 不存在"}' });
    await koala.deleteSubject(id);
    expect(deletes(id).length).toBe(3);
  });

  it('logs in again once on an expired session', async () => {
    const koala = client();
    const id = await koala.createVisitor(visitor());
    sim.setExpiredAnswer('html');
    sim.expireSessions();
    const before = sim.logins;
    await koala.deleteSubject(id);
    expect(sim.logins).toBe(before + 1);
    expect(sim.visitors().some((v) => v.id === id)).toBe(false);
  });

  it('Koala down is a transient failure and the subject stays', async () => {
    const koala = client();
    const id = await koala.createVisitor(visitor());
    sim.server.setFault({ path: `/subject/${id}`, status: 502, times: 1 });
    const err = await upstreamError(koala.deleteSubject(id));
    expect([err.code, err.transient]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
    expect(sim.visitors().some((v) => v.id === id)).toBe(true);
    await koala.deleteSubject(id);
    expect(sim.visitors().some((v) => v.id === id)).toBe(false);
  });

  it('another refusal is UPSTREAM_FAILED', async () => {
    const koala = client();
    const id = await koala.createVisitor(visitor());
    sim.server.setFault({ path: `/subject/${id}`, status: 200, times: 1, body: '{"code":-3,"desc":"权限不足"}' });
    expect((await upstreamError(koala.deleteSubject(id))).code).toBe('UPSTREAM_FAILED');
  });
});

describe('logs', () => {
  it('never carry a visitor’s full phone number', () => {
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toMatch(/13912345678|13912345679/);
  });
});
