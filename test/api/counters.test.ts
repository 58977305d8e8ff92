import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { incrementCounters } from '../../src/db/counters.js';
import { openTestDatabase, testDbKind } from '../helpers/harness.js';

// src/db/counters.ts: counters in one statement whose commit does not wait for the disk.

let db: { database: Database; url: string; drop: () => Promise<void> };
let one: Database;

beforeAll(async () => {
  db = await openTestDatabase();
  // PostgreSQL: a pool of one connection, so the next statement runs on the very session.
  one = testDbKind() === 'pg' ? await openDatabase(db.url, { poolSize: 1 }) : db.database;
});
afterAll(async () => {
  if (one !== db.database) await one.close();
  await db.database.close();
  await db.drop();
});

describe('incrementCounters', () => {
  it('counts every increment under concurrency, each bucket on its own', async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, () =>
        incrementCounters(db.database, [
          { bucket: 'test:a', windowStart: 1 },
          { bucket: 'test:b', windowStart: 1 },
        ]),
      ),
    );
    expect(answers.map((m) => m.get('test:a')).sort((x, y) => x! - y!)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(Math.max(...answers.map((m) => m.get('test:b')!))).toBe(60);
    expect((await incrementCounters(db.database, [{ bucket: 'test:a', windowStart: 2 }])).get('test:a')).toBe(1);
  });

  it("the asynchronous commit is the statement's own: the session's setting is unchanged after it", async () => {
    const before = (await one.db.execute(sql.raw('show synchronous_commit'))) as unknown as { rows: Array<{ synchronous_commit: string }> };
    await incrementCounters(one, [{ bucket: 'test:c', windowStart: 1 }]);
    const after = (await one.db.execute(sql.raw('show synchronous_commit'))) as unknown as { rows: Array<{ synchronous_commit: string }> };
    expect(after.rows[0]!.synchronous_commit).toBe(before.rows[0]!.synchronous_commit);
    expect(after.rows[0]!.synchronous_commit).toBe('on');
  });
});
