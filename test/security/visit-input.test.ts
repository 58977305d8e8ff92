import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { applications } from '../../src/db/schema.js';
import { newPhone, notificationsOf, TestClock } from '../helpers/apply.js';
import { anApplication, aStaff, aVisitor, postApplication, type Staff } from '../helpers/factories.js';
import { startHarness, type Harness, type Reply } from '../helpers/harness.js';

/**
 * What a visit application may carry (docs/RELIABILITY.md "Attacks"): a window of at most
 * MAX_VISIT_HOURS that starts within MAX_DAYS_AHEAD days (a staff invitation is authorized at
 * once, so an endless window would be an endless pass and Koala visitor), and text without
 * hidden characters (bidi overrides, zero-width, controls), kept in NFC, since the visitor's
 * words reach the host's WeChat message as they are.
 */

const H = 3600;
const DAY = 86_400;
let h: Harness;
let host: Staff;
const clock = new TestClock();

beforeAll(async () => {
  h = await startHarness({ now: clock.now });
  host = await aStaff(h, 'lina');
}, 60_000);
afterAll(async () => h?.close());

function expectRefused(res: Reply, field: string, words: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body).toMatchObject({ code: 400, error: 'VALIDATION_FAILED' });
  expect(res.body.err_msg).toContain(field);
  expect(res.body.err_msg).toContain(words);
}

/** Nothing of a refused application is kept: no record (and so no pass, notification or Koala visitor). */
async function nothingFor(visitorPhone: string): Promise<void> {
  expect(await h.database.db.select({ id: applications.id }).from(applications).where(eq(applications.phone, visitorPhone))).toEqual([]);
}

describe('the visit window', () => {
  it('a staff invitation from 1970 to 2100 is refused, and nothing is kept', async () => {
    const phone = newPhone();
    const res = await postApplication(h, { by: host, visitor: { name: '永久访客', phone }, window: { start_time: 0, end_time: 4_102_444_800 } });
    expectRefused(res, 'end_time', '一次来访最长 24 小时');
    await nothingFor(phone);
  });

  it('at most 24 hours: 24 h is accepted, 24 h + 1 s refused, for invitations and requests alike', async () => {
    const start = clock.nowSeconds() + H;
    await anApplication(h, { by: host, window: { start_time: start, end_time: start + 24 * H } });
    const phone = newPhone();
    expectRefused(
      await postApplication(h, { by: host, visitor: { name: '王五', phone }, window: { start_time: start, end_time: start + 24 * H + 1 } }),
      'end_time',
      '24 小时',
    );
    await nothingFor(phone);
    const visitor = await aVisitor(h);
    expectRefused(await postApplication(h, { by: visitor, host, window: { start_time: start, end_time: start + 7 * DAY } }), 'end_time', '24 小时');
    await nothingFor(visitor.phone);
  });

  it('a visit in progress may be applied for; one that started a day ago or more may not', async () => {
    const now = clock.nowSeconds();
    const rec = await anApplication(h, { by: host, window: { start_time: now - 23 * H, end_time: now + H } });
    expect(rec.start_time).toBe(now - 23 * H);
    const phone = newPhone();
    expectRefused(
      await postApplication(h, { by: host, visitor: { name: '王五', phone }, window: { start_time: now - 30 * DAY, end_time: now + H } }),
      'end_time',
      '24 小时',
    );
    await nothingFor(phone);
  });

  it('starts within 90 days', async () => {
    const now = clock.nowSeconds();
    await anApplication(h, { by: host, window: { start_time: now + 90 * DAY, end_time: now + 90 * DAY + 2 * H } });
    const phone = newPhone();
    const far = now + 91 * DAY;
    expectRefused(
      await postApplication(h, { by: host, visitor: { name: '王五', phone }, window: { start_time: far, end_time: far + 2 * H } }),
      'start_time',
      '90 天',
    );
    await nothingFor(phone);
  });

  it('MAX_VISIT_HOURS and MAX_DAYS_AHEAD are read from the environment, within their ranges', () => {
    const env = { NODE_ENV: 'test' };
    expect(loadConfig(env).visitWindow).toEqual({ maxHours: 24, maxDaysAhead: 90 });
    expect(loadConfig({ ...env, MAX_VISIT_HOURS: '8', MAX_DAYS_AHEAD: '30' }).visitWindow).toEqual({ maxHours: 8, maxDaysAhead: 30 });
    expect(() => loadConfig({ ...env, MAX_VISIT_HOURS: '0' })).toThrow(/MAX_VISIT_HOURS/);
    expect(() => loadConfig({ ...env, MAX_DAYS_AHEAD: '100000' })).toThrow(/MAX_DAYS_AHEAD/);
  });
});

describe('hidden characters', () => {
  const HIDDEN: Array<[string, string]> = [
    ['right-to-left override', '\u202e'],
    ['left-to-right embedding', '\u202a'],
    ['first-strong isolate', '\u2068'],
    ['pop directional isolate', '\u2069'],
    ['zero-width space', '\u200b'],
    ['zero-width joiner', '\u200d'],
    ['byte order mark', '\ufeff'],
    ['escape', '\u001b'],
  ];

  it.each(HIDDEN)('%s: refused in every field a visitor writes, naming the field; nothing kept', async (_what, ch) => {
    const visitor = await aVisitor(h);
    const code = `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    for (const [field, body] of [
      ['name', { name: `王${ch}五` }],
      ['come_from', { come_from: `某${ch}公司` }],
      ['remark', { remark: `请${ch}带证件` }],
      ['interviewee', { interviewee: `李${ch}娜` }],
    ] as const) {
      const res = await postApplication(h, { by: visitor, host, body });
      expectRefused(res, field, code);
      expect(res.body.err_msg).toContain('不可见字符');
    }
    const res = await postApplication(h, { by: visitor, host, retinues: [{ name: `赵${ch}六`, phone: newPhone() }] });
    expectRefused(res, 'retinues[0].name', code);
    await nothingFor(visitor.phone);
  });

  it("text is kept in NFC, and the host's WeChat message carries it so", async () => {
    const visitor = await aVisitor(h, { name: 'Jose\u0301' });
    const rec = await anApplication(h, { by: visitor, host, body: { come_from: '  Cafe\u0301 ', remark: '第一行\n第二行' } });
    expect([rec.name, rec.come_from, rec.remark]).toEqual(['Jos\u00e9', 'Caf\u00e9', '第一行\n第二行']);
    const planned = (await notificationsOf(h, rec.id)).filter((r) => r.channel === 'wechat' && r.phone === host.phone);
    expect(planned.map((r) => (r.payload as { data: { keyword1: string } }).data.keyword1)).toEqual(['Jos\u00e9']);
    const sent = await h.waitFor(() => h.sims.cloud.messages().find((m) => m.phone === host.phone && JSON.stringify(m).includes('Jos')), {
      what: "the host's WeChat message",
    });
    expect(JSON.stringify(sent)).toContain('Jos\u00e9');
    expect(JSON.stringify(sent)).not.toContain('e\u0301');
  });
});
