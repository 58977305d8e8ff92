import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRITE_PATH_FRESH_SECONDS } from '../../src/modules/staff/directory.js';
import { futureWindow, STAFF, startHarness, type Harness } from '../helpers/harness.js';

/**
 * POST /v1/subject (a staff invitation) checks that the caller is a Koala employee. A read of
 * that employee from Koala stands for WRITE_PATH_FRESH_SECONDS (a staff member inviting several
 * visitors in a row does not make Koala re-read them every time); after that Koala is asked
 * again, and an employee it does not have any more cannot invite.
 */
let h: Harness;
let clock = Date.now();
let token = '';
let visitor = 0;
const subjectReads = () => h.sims.koala.server.received.filter((r) => r.path === `/subject/${STAFF.zhangwei.subjectId}`).length;
const invite = () =>
  h.request('POST', '/v1/subject', {
    token,
    body: {
      name: `访客${visitor}`,
      phone: `1390000${String(2000 + visitor++)}`,
      interviewee: '张伟',
      interviewee_phone: STAFF.zhangwei.phone,
      ...futureWindow(),
    },
  });

beforeAll(async () => {
  h = await startHarness({ now: () => clock });
  token = await h.bound('wx-recheck-host', STAFF.zhangwei.phone);
});
afterAll(async () => {
  await h?.close();
});

describe('POST /v1/subject: the host check on the write path', () => {
  it('within the window Koala is not asked again; after it, it is', async () => {
    expect((await invite()).status).toBe(200);
    const reads = subjectReads();
    clock += (WRITE_PATH_FRESH_SECONDS - 5) * 1000;
    expect((await invite()).status).toBe(200);
    expect((await invite()).status).toBe(200);
    expect(subjectReads()).toBe(reads);

    clock += 10_000;
    expect((await invite()).status).toBe(200);
    expect(subjectReads()).toBe(reads + 1);
  });

  it('an employee Koala no longer has cannot invite once the window has passed: 404 STAFF_NOT_FOUND', async () => {
    h.sims.koala.removeSubject(STAFF.zhangwei.subjectId);
    clock += (WRITE_PATH_FRESH_SECONDS + 1) * 1000;
    const res = await invite();
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 404, error: 'STAFF_NOT_FOUND' });
  });
});
