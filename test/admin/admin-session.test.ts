import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClock } from '../helpers/apply.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { captureLogger } from '../helpers/upstream.js';
import { adminLogin, expectError } from './helpers.js';

// docs/api-contract-frontdesk.md "Admin session". scrypt makes each login ~0.1 s: the file takes ~15 s.

const FIRST = { username: 'root-admin', password: 'first-admin-password-0xC0FFEE' };
let h: Harness;
let logs: string[];
const clock = new TestClock();

const login = (username: string, password: string) => h.request('POST', '/v1/admin/session', { body: { username, password } });

beforeAll(async () => {
  const cap = captureLogger();
  logs = cap.lines;
  h = await startHarness({ now: clock.now, logger: cap.logger, env: { ADMIN_USERNAME: FIRST.username, ADMIN_PASSWORD: FIRST.password } });
}, 60_000);
afterAll(async () => {
  await h?.close();
});

describe('the first admin from ADMIN_USERNAME / ADMIN_PASSWORD', () => {
  it('exists at start-up and logs in; its password is never logged', async () => {
    const res = await login(FIRST.username, FIRST.password);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      code: 0,
      err_msg: '',
      data: { token: expect.stringMatching(/^adm1\./), expires_at: expect.any(Number), admin: { username: FIRST.username } },
    });
    expect(res.body.data.expires_at).toBeGreaterThan(clock.nowSeconds());
    expect(logs.join('\n')).not.toContain(FIRST.password);
    expect(logs.some((l) => l.includes('created the first admin'))).toBe(true);
  });

  it('is created once only: a second start with other values changes nothing', async () => {
    expect(await h.runtime.admins.ensureFirst({ username: 'someone-else', password: 'another-password' })).toBe(false);
    expectError(await login('someone-else', 'another-password'), 401, 'UNAUTHENTICATED');
  });
});

describe('POST /v1/admin/session', () => {
  it('a wrong password and an unknown username: the same 401', async () => {
    const wrong = await login(FIRST.username, 'not-the-password');
    const unknown = await login('nobody-here', 'not-the-password');
    expectError(wrong, 401, 'UNAUTHENTICATED');
    expectError(unknown, 401, 'UNAUTHENTICATED');
    expect(wrong.body.err_msg).toBe(unknown.body.err_msg);
  });

  it('bad input: 400 naming the problem', async () => {
    expectError(await h.request('POST', '/v1/admin/session', { body: { username: 'x' } }), 400, 'VALIDATION_FAILED');
    expectError(await h.request('POST', '/v1/admin/session', { body: { username: 'x', password: 5 } }), 400, 'VALIDATION_FAILED');
    expectError(await h.request('POST', '/v1/admin/session', { payload: '{', headers: { 'content-type': 'application/json' } }), 400, 'VALIDATION_FAILED');
  });

  it('the admin token expires after 12 hours', async () => {
    const a = await adminLogin(h);
    expect((await h.request('GET', '/v1/devices', { token: a.token })).status).toBe(200);
    clock.advance(12 * 3600 + 1);
    expectError(await h.request('GET', '/v1/devices', { token: a.token }), 401, 'UNAUTHENTICATED');
    clock.advance(-(12 * 3600 + 1));
  });
});

describe('PUT /v1/admin/password', () => {
  it('needs the old password; ends every other session; the new password works, the old one not', async () => {
    const a = await adminLogin(h);
    const second = (await login(a.username, a.password)).body.data.token as string;
    expectError(
      await h.request('PUT', '/v1/admin/password', { token: a.token, body: { old_password: 'wrong-old-password', new_password: 'a-new-password-1' } }),
      403,
      'FORBIDDEN',
    );
    expectError(
      await h.request('PUT', '/v1/admin/password', { token: a.token, body: { old_password: a.password, new_password: 'short' } }),
      400,
      'VALIDATION_FAILED',
    );

    const res = await h.request('PUT', '/v1/admin/password', { token: a.token, body: { old_password: a.password, new_password: 'a-new-password-1' } });
    expect(res.status).toBe(200);
    const fresh = res.body.data.token as string;
    expectError(await h.request('GET', '/v1/devices', { token: a.token }), 401, 'UNAUTHENTICATED');
    expectError(await h.request('GET', '/v1/devices', { token: second }), 401, 'UNAUTHENTICATED');
    expect((await h.request('GET', '/v1/devices', { token: fresh })).status).toBe(200);
    expectError(await login(a.username, a.password), 401, 'UNAUTHENTICATED');
    expect((await login(a.username, 'a-new-password-1')).status).toBe(200);
    expect(logs.join('\n')).not.toContain('a-new-password-1');

    const audit = await h.request('GET', `/v1/audit?action=admin.password_change&target_id=${a.id}`, { token: fresh });
    expect(audit.body.data).toHaveLength(1);
    expect(JSON.stringify(audit.body.data)).not.toContain('a-new-password-1');
  });
});

describe('brute force', () => {
  it('10 failures for one username, then 30 from one address: 429 with Retry-After, even with the right password, until the window passes', async () => {
    // Frozen at the start of a fresh 15-minute window: the attempts cannot straddle two windows.
    clock.freeze();
    clock.advance(15 * 60 - (clock.nowSeconds() % (15 * 60)));
    const a = await adminLogin(h);
    for (let i = 0; i < 10; i++) expectError(await login(a.username, `guess-${i}`), 401, 'UNAUTHENTICATED');
    const blocked = await login(a.username, a.password);
    expectError(blocked, 429, 'RATE_LIMITED');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(15 * 60);
    // Another admin from the same address is not locked out by it...
    expect((await login(FIRST.username, FIRST.password)).status).toBe(200);
    // ...until that address has failed 30 times, over whatever usernames.
    for (let i = 0; i < 20; i++) expectError(await login(`spray-${i}`, 'password123'), 401, 'UNAUTHENTICATED');
    expectError(await login(FIRST.username, FIRST.password), 429, 'RATE_LIMITED');
    clock.advance(15 * 60);
    expect((await login(a.username, a.password)).status).toBe(200);
    expect((await login(FIRST.username, FIRST.password)).status).toBe(200);
    clock.thaw();
  }, 60_000);

  it('a burst of parallel guesses cannot slip past the limit: at most 10 are checked', async () => {
    clock.freeze();
    clock.advance(15 * 60 - (clock.nowSeconds() % (15 * 60)));
    const a = await adminLogin(h);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => login(a.username, `burst-${i}`)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expectError(await login(a.username, a.password), 429, 'RATE_LIMITED');
    clock.advance(15 * 60);
    clock.thaw();
  }, 60_000);
});
