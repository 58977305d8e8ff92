import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { LIMITS } from '../../src/limits.js';
import { SMS_PARAMS, wechatLength } from '../../src/modules/notifications/fields.js';
import { planNotifications, type NotificationEvent } from '../../src/modules/notifications/plan.js';
import { planSigninNotifications } from '../../src/modules/notifications/signin-plan.js';
import { newPhone, settled, type NotificationRow } from '../helpers/apply.js';
import { aNewEmployee, anApplication, aVisitor, type Staff } from '../helpers/factories.js';
import { type Desk, signin, startDesk } from '../visits/helpers.js';

/**
 * Aliyun refuses an SMS whose template variable is over 35 characters (and one with a link in a
 * variable); WeChat shows no `first` / `remark` and only 20 characters of a keyword line. Every
 * event's messages, with every name and the company as long as the service accepts them (and a
 * host's name longer still, as Koala may hold it), must pass the simulators, which enforce
 * exactly that: nothing is refused, nothing hidden.
 */

const EVENTS: NotificationEvent[] = ['invitation_created', 'request_created', 'request_authorized'];
const URL_LIKE = /https?:\/\/|www\./i;

/** Letters of every kind a name holds: CJK, ASCII (WeChat counts a run as one), outside the BMP (two UTF-16 units), a space. */
const nameChar = fc.constantFrom('王', '欧', '阳', 'A', 'z', '9', '\u{20000}', '\u{2A6D6}', 'é', '·', ' ', 'ß');
/** `max` characters (code points, as the service counts them), starting with a letter. */
const text = (max: number) => fc.array(nameChar, { minLength: max, maxLength: max }).map((cs) => ['x', ...cs].slice(0, max).join('').trim());

function expectSmsFits(params: Record<string, string>, what: string) {
  for (const [k, v] of Object.entries(params)) {
    expect(v.length, `${what}: ${k} = ${v}`).toBeLessThanOrEqual(35);
    expect(v, `${what}: ${k}`).not.toMatch(URL_LIKE);
  }
}

describe('every message within what Aliyun and WeChat take (planned)', () => {
  const templates = { sms: {}, wechat: {} } as Config['templates'];
  it('any names, company and companions up to the limits: SMS variables ≤ 35, no link, WeChat lines whole', () => {
    fc.assert(
      fc.property(
        fc.record({
          name: text(LIMITS.personName),
          host: text(LIMITS.personName + 16),
          company: fc.oneof(fc.constant(''), text(LIMITS.company)),
          retinues: fc.array(text(LIMITS.personName), { maxLength: LIMITS.companions }),
          start: fc.integer({ min: 1_700_000_000, max: 2_000_000_000 }),
          hours: fc.integer({ min: 1, max: 24 }),
        }),
        (f) => {
          const facts = {
            kind: 'request' as const,
            name: f.name,
            phone: '13900000001',
            company: f.company,
            proposer: '13900000001',
            interviewee: f.host,
            intervieweePhone: '13800000001',
            startTime: f.start,
            endTime: f.start + f.hours * 3600,
            retinues: f.retinues.map((name, i) => ({ name, phone: `1370000${String(i).padStart(4, '0')}` })),
          };
          const planned = [
            ...EVENTS.flatMap((e) => planNotifications(e, facts, templates, 'https://h/')),
            ...planSigninNotifications(
              {
                interviewee: f.host,
                intervieweePhone: '13800000001',
                startTime: facts.startTime,
                endTime: facts.endTime,
                people: [f.name, ...f.retinues].map((name, i) => ({ name, phone: `1360000${String(i).padStart(4, '0')}`, passId: i + 1 })),
                recordsUrl: 'https://h/',
              },
              templates,
            ),
          ];
          for (const n of planned) {
            const p = n.payload as { params?: Record<string, string>; data?: Record<string, string> };
            if (n.channel === 'sms') {
              expectSmsFits(p.params!, `${n.event} ${n.template}`);
              expect(Object.keys(p.params!).sort()).toEqual([...SMS_PARAMS[n.template as keyof typeof SMS_PARAMS]].sort());
            } else {
              expect(Object.keys(p.data!).sort()).toEqual(['keyword1', 'keyword2', 'keyword3', 'keyword4', 'keyword5']);
              for (const v of Object.values(p.data!)) expect(wechatLength(v), v).toBeLessThanOrEqual(20);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('every event through the simulators, with the longest names and company', () => {
  let d: Desk;
  let host: Staff;
  beforeAll(async () => {
    d = await startDesk({ env: { SMS_PER_PHONE_PER_HOUR: '1000', SMS_PER_PHONE_PER_DAY: '1000', APPLY_PER_HOUR: '1000' }, sms: { limits: null } });
    // A host with the longest name a form accepts (the planned test above goes longer).
    host = await aNewEmployee(d.h, { name: `欧阳${'慕容'.repeat(15)}` });
  });
  afterAll(async () => {
    await d?.close();
  });

  const cases = fc.sample(fc.record({ name: text(LIMITS.personName), company: text(LIMITS.company) }), { seed: 15, numRuns: 1 });
  cases.push({ name: '\u{20000}'.repeat(LIMITS.personName), company: 'Ｃ'.repeat(LIMITS.company) });

  it.each(cases.map((c, i) => [i, c] as const))(
    'case %i: request, authorize, invitation with 20 companions, sign-in: all sent, nothing hidden',
    async (_i, c) => {
      const visitor = await aVisitor(d.h, { name: c.name, phone: newPhone() });
      const companions = Array.from({ length: LIMITS.companions }, (_, i) => ({
        name: [...c.name].slice(0, LIMITS.personName - 2).join('') + i,
        phone: newPhone('137'),
      }));
      for (const p of companions) d.h.sims.cloud.bind(`wx-${p.phone}`, p.phone);
      const request = await anApplication(d.h, { by: visitor, host, visitor, body: { come_from: c.company }, window: d.clock.window(1) });
      expect((await d.h.request('PUT', `/v1/auth/${request.id}`, { token: host.token })).status).toBe(200);
      const invitation = await anApplication(d.h, {
        by: host,
        host,
        visitor,
        retinues: companions,
        body: { come_from: c.company },
        window: d.clock.window(0.25),
      });
      expect((await signin(d, visitor.phone)).status).toBe(200);

      const rows: NotificationRow[] = [];
      for (const id of [request.id, invitation.id]) rows.push(...(await settled(d.h, id, 30_000)));
      const failed = rows.filter((r) => r.status !== 'sent');
      expect(failed, JSON.stringify(failed)).toEqual([]);
      expect([...new Set(rows.map((r) => `${r.event}:${r.template}`))].sort()).toEqual(
        [
          'request_created:approval_reminder_to_employee',
          'request_created:application_submitted_to_visitor',
          'request_authorized:approval_pass_to_visitor',
          'invitation_created:approval_pass_to_visitor',
          'visitor_signed_in:signin_to_visitor',
          'visitor_signed_in:visitor_signin_to_employee',
        ].sort(),
      );

      // What the simulators took for these rows (OutId is the row's id).
      const ids = new Set(rows.map((r) => String(r.id)));
      const sms = d.h.sims.sms.messages().filter((m) => m.out_id !== null && ids.has(m.out_id));
      expect(sms).toHaveLength(rows.filter((r) => r.channel === 'sms').length);
      for (const m of sms) expectSmsFits(m.params, m.template_code);
      // The host is asked about the visitor: the start of the visitor's name and of the company.
      const reminder = sms.find((m) => m.template_code === 'SMS_TPL_APPROVAL_REMINDER_TO_EMPLOYEE')!;
      const kept = reminder.params.visitor!.replace(/…$/, '');
      expect(c.name.startsWith(kept) && kept.length >= 30).toBe(true);
      expect(reminder.params.company).toMatch(/…$/);
      expect(reminder.params.name).toBe(host.name);
      const phones = new Set([visitor.phone, host.phone, ...companions.map((p) => p.phone)]);
      const wechat = d.h.sims.cloud.messages().filter((w) => phones.has(w.phone));
      expect(wechat.length).toBeGreaterThanOrEqual(rows.filter((r) => r.channel === 'wechat').length);
      for (const m of wechat) expect(m.hidden, JSON.stringify(m.data)).toEqual([]);
    },
  );
});
