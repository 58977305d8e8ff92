import pg from 'pg';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newOpenid, newPhone, TestClock } from '../helpers/apply.js';
import { startHarness, testDbKind, type Harness } from '../helpers/harness.js';

// The record lists (3.9, 3.10) are served from a per-phone page cache. Whatever the
// cache holds, every answer must be what the database says now: these tests change records
// through every kind of path (this service, another connection as another replica or an admin's
// SQL would, deletions, bulk changes, a lost notification connection) and read the lists after.

let h: Harness;
const clock = new TestClock();

interface Person {
  name: string;
  phone: string;
  token: string;
}

async function person(name: string, employee = false): Promise<Person> {
  const phone = newPhone(employee ? '136' : '139');
  if (employee) h.sims.koala.addEmployee({ name, phone });
  return { name, phone, token: await h.bound(newOpenid('wx'), phone) };
}

async function list(route: 'visit' | 'auth', who: Person, query = 'size=20'): Promise<any> {
  const res = await h.request('GET', `/v1/${route}/records?${query}`, { token: who.token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.body;
}

async function request(visitor: Person, host: Person, retinues: Person[] = []): Promise<any> {
  const res = await h.request('POST', '/v1/subject', {
    token: visitor.token,
    body: {
      ...clock.window(24),
      name: visitor.name,
      phone: visitor.phone,
      interviewee: host.name,
      interviewee_phone: host.phone,
      retinues: retinues.map((r) => ({ name: r.name, phone: r.phone })),
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data;
}

/** SQL on a connection of its own, as another replica or an administrator would run it. */
async function elsewhere(text: string): Promise<void> {
  if (testDbKind() === 'pglite') {
    // One embedded database, one connection: the service's own (its notifications are delivered before the statement returns).
    await h.database.db.execute(sql.raw(text));
    return;
  }
  const client = new pg.Client({ connectionString: h.runtime.config.databaseUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const ids = (body: any): number[] => body.data.map((r: any) => r.id);
const stats = () => h.runtime.pages.stats();

let host: Person;
let visitor: Person;
let companion: Person;

beforeAll(async () => {
  h = await startHarness({ now: clock.now, env: { APPLY_PER_HOUR: '1000' }, sms: { limits: null } });
  host = await person('缓存主人', true);
  visitor = await person('缓存访客');
  companion = await person('缓存同伴');
  await h.waitFor(() => stats().enabled, { what: 'the records notification listener' });
});
afterAll(async () => h?.close());

describe('record lists: page cache', () => {
  it('a page read again comes from the cache, byte for byte the same answer', async () => {
    await request(visitor, host, [companion]);
    const first = await h.request('GET', '/v1/visit/records?size=5', { token: host.token });
    const hits = stats().hits;
    const again = await h.request('GET', '/v1/visit/records?size=5', { token: host.token });
    expect(stats().hits).toBe(hits + 1);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.body.data).toHaveLength(1);
    expect(again.body.page).toEqual({ count: 1, current: 1, size: 5, total: 1 });
    expect(again.headers['x-request-id']).toBeTruthy();
    expect(again.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
  });

  it('each query is its own page: filter, page and size', async () => {
    const all = await list('visit', host, 'size=20');
    const pending = await list('visit', host, 'size=20&is_auth=0');
    const done = await list('visit', host, 'size=20&is_auth=1');
    expect(ids(pending).length + ids(done).length).toBe(ids(all).length);
    expect((await list('visit', host, 'size=1&page=2')).data).toHaveLength(0);
  });

  it('an application made here is on every involved list at once (host, visitor, companion; proposer list)', async () => {
    const before = await Promise.all([list('visit', host), list('visit', companion), list('auth', visitor)]);
    const created = await request(visitor, host, [companion]);
    const after = await Promise.all([list('visit', host), list('visit', companion), list('auth', visitor)]);
    after.forEach((body, i) => {
      expect(ids(body)[0]).toBe(created.id);
      expect(body.page.count).toBe(before[i].page.count + 1);
    });
  });

  it("the host's authorization shows at once on the host's and the visitor's lists", async () => {
    const created = await request(visitor, host);
    expect((await list('auth', visitor)).data.find((r: any) => r.id === created.id).is_auth).toBe(0);
    expect((await list('visit', host)).data.find((r: any) => r.id === created.id).is_auth).toBe(0);
    const res = await h.request('PUT', `/v1/auth/${created.id}`, { token: host.token });
    expect(res.status).toBe(200);
    expect((await list('auth', visitor)).data.find((r: any) => r.id === created.id).is_auth).toBe(1);
    expect((await list('visit', host)).data.find((r: any) => r.id === created.id).is_auth).toBe(1);
    expect((await list('visit', host, 'size=20&is_auth=0')).data.some((r: any) => r.id === created.id)).toBe(false);
  });

  it('a change made on another connection (another replica, SQL by hand) reaches a cached page', async () => {
    const created = await request(visitor, host, [companion]);
    await list('visit', companion);
    await list('visit', companion); // cached now
    await elsewhere(`update applications set remark = '改过了' where id = ${created.id}`);
    await h.waitFor(async () => (await list('visit', companion)).data.find((r: any) => r.id === created.id)?.remark === '改过了', {
      timeoutMs: 5000,
      what: 'the change on the cached page',
    });
    await elsewhere(`update application_people set name = '改名同伴' where application_id = ${created.id} and role = 'companion'`);
    await h.waitFor(async () => (await list('auth', visitor)).data.find((r: any) => r.id === created.id)?.retinues[0]?.name === '改名同伴', {
      timeoutMs: 5000,
      what: 'the companion rename',
    });
  });

  it('a record deleted elsewhere (an admin, retention, erasure) leaves every cached list', async () => {
    const created = await request(visitor, host, [companion]);
    for (const [route, who] of [
      ['visit', host],
      ['visit', companion],
      ['auth', visitor],
    ] as const) {
      await list(route, who);
      expect(ids(await list(route, who))).toContain(created.id);
    }
    await elsewhere(`delete from applications where id = ${created.id}`);
    for (const [route, who] of [
      ['visit', host],
      ['visit', companion],
      ['auth', visitor],
    ] as const) {
      await h.waitFor(async () => !ids(await list(route, who)).includes(created.id), {
        timeoutMs: 5000,
        what: `${route} list of ${who.name} without the deleted record`,
      });
    }
  });

  it('a change naming more than 500 phones empties the whole cache', async () => {
    await list('visit', host);
    const resets = stats().resets;
    const result = (await h.database.db.execute(sql`select max(id)::int as id from applications`)) as unknown as { rows: Array<{ id: number }> };
    const appId = result.rows[0]!.id;
    await elsewhere(
      `insert into application_people (application_id, role, position, name, phone, is_proposer, created_at)
       select ${appId}, 'companion', 1000 + g, '群' || g, '1770000' || lpad(g::text, 4, '0'), false, 0 from generate_series(1, 600) g`,
    );
    await h.waitFor(() => stats().resets > resets, { timeoutMs: 5000, what: 'a reset' });
    expect(stats().entries).toBe(0);
    await elsewhere(`delete from application_people where application_id = ${appId} and position >= 1000`);
  });
});

describe.runIf(testDbKind() === 'pg')('record lists: the notification connection is lost', () => {
  it('nothing is served from the cache until it is back, and what changed meanwhile is seen', async () => {
    const created = await request(visitor, host, [companion]);
    await list('visit', companion);
    await list('visit', companion);
    const resets = stats().resets;
    const client = new pg.Client({ connectionString: h.runtime.config.databaseUrl });
    await client.connect();
    try {
      // The listening connection's last query is its LISTEN or, after 5 s, its heartbeat
      // (`select 1`, which nothing else here sends: /readyz is not called).
      const { rows } = await client.query(
        `select pg_terminate_backend(pid) as killed from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid() and (query ilike 'LISTEN%' or query = 'select 1')`,
      );
      expect(rows.length).toBe(1);
      // Once the loss is noticed (the cache is emptied and off), change the record: the
      // listener may be back already, or not yet.
      await h.waitFor(() => stats().resets > resets, { timeoutMs: 10_000, what: 'the loss noticed' });
      await client.query(`update applications set remark = '断线时改的' where id = ${created.id}`);
    } finally {
      await client.end();
    }
    // Whether the cache is still off or already back (and emptied), the page is the database's.
    expect((await list('visit', companion)).data.find((r: any) => r.id === created.id).remark).toBe('断线时改的');
    await h.waitFor(() => stats().enabled, { timeoutMs: 10_000, what: 'the listener back' });
    expect((await list('visit', companion)).data.find((r: any) => r.id === created.id).remark).toBe('断线时改的');
    // And caching works again.
    const hits = stats().hits;
    await list('visit', companion);
    await list('visit', companion);
    expect(stats().hits).toBeGreaterThan(hits);
  });
});
