import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fault, SimServer } from '../../src/adapters/simulator.js';
import { newPhone, notificationsOf } from '../helpers/apply.js';
import { futureWindow, STAFF, startHarness, type Harness, type Reply } from '../helpers/harness.js';
import { startRound, throughWechat } from '../helpers/oauth.js';
import { HIGH_SMS_CAPS } from '../helpers/service-process.js';

/**
 * Each outside system down, failing, slow or talking nonsense, one at a time (a table of
 * system × fault). For every row: the calls that need the failing system answer within their
 * deadline with the contract's 502/503 envelope (or 200, where a remembered answer is used);
 * the calls that do not need it keep answering 200; and the notifications queued meanwhile
 * are delivered once the system is back.
 */
const TIMEOUT_MS = 800;
/** One upstream deadline, a second one for a follow-up call (Koala's re-login), and slack for a busy 2-core machine. */
const ANSWER_BOUND_MS = 2 * TIMEOUT_MS + 1500;

type System = 'koala' | 'cloud' | 'sms' | 'oauth';
type Kind = 'down' | 'http-500' | 'slow-30s' | 'html-page' | 'wrong-shape';

const FAULTS: Record<Kind, Fault> = {
  // The connection is accepted and dropped without an answer (a crashed or restarting upstream).
  down: { status: 0 },
  'http-500': { status: 500, body: '{"message":"internal error"}' },
  // Answers normally, but only after 30 s: our UPSTREAM_TIMEOUT_MS must cut it short.
  'slow-30s': { delayMs: 30_000 },
  // A gateway's or captive portal's page, with 200.
  'html-page': { status: 200, contentType: 'text/html; charset=utf-8', body: '<!DOCTYPE html><html><body><h1>系统维护中</h1></body></html>' },
  // JSON, but not the protocol.
  'wrong-shape': { status: 200, body: '{"result":[1,2,3],"code":"zero","data":"nonsense"}' },
};

let h: Harness;
let host: string;
let visitor: string;
const visitorPhone = '13900006001';

beforeAll(async () => {
  h = await startHarness({
    env: {
      UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS),
      BIND_VERIFY_PHONE: 'false',
      ...HIGH_SMS_CAPS,
      NOTIFY_RETRY_DELAY_S: '1',
      NOTIFY_RETRY_MAX_DELAY_S: '1',
      APPLY_PER_HOUR: '100000',
    },
    sms: { limits: null },
  });
  host = await h.bound('wx-out-host', STAFF.zhangwei.phone);
  visitor = await h.bound('wx-out-visitor', visitorPhone);
  // Koala has been seen once (staff cache, purposes), as in any running deployment.
  const warm = await invite();
  expect(warm.status).toBe(200);
  expect((await h.request('GET', '/v1/subject/purpose', { token: host })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await h?.close();
});

function server(system: System): SimServer {
  return { koala: h.sims.koala.server, cloud: h.sims.cloud.server, sms: h.sims.sms.server, oauth: h.sims.oauth.server }[system];
}

let nameSeq = 0;
/** An invitation for a new visitor (bound to WeChat, so both channels carry a message). */
function invite(): Promise<Reply> {
  nameSeq += 1;
  const phone = newPhone('139');
  h.sims.cloud.bind(`wx-out-guest-${nameSeq}`, phone);
  return h.request('POST', '/v1/subject', {
    token: host,
    body: { name: `故障${nameSeq}`, phone, interviewee: STAFF.zhangwei.name, interviewee_phone: STAFF.zhangwei.phone, ...futureWindow() },
  });
}

async function timed(run: () => Promise<Reply>): Promise<Reply & { ms: number }> {
  const started = Date.now();
  const res = await run();
  return { ...res, ms: Date.now() - started };
}

/** A failure the contract's way: 502/503, the envelope, no internals. */
function expectUpstreamEnvelope(res: Reply, what: string): void {
  expect([502, 503], `${what}: ${res.status} ${JSON.stringify(res.body)}`).toContain(res.status);
  expect(res.body).toMatchObject({ code: res.status, err_msg: expect.any(String), error: expect.stringMatching(/^UPSTREAM_(FAILED|UNAVAILABLE)$/) });
  expect(JSON.stringify(res.body)).not.toMatch(/\bat \S+\.[jt]s|select |insert |stack|TypeError|SyntaxError/i);
}

/** POST /v1/session as a browser that went through WeChat for this openid. */
async function signIn(openid: string): Promise<Reply> {
  const round = await startRound(h.post);
  const back = throughWechat(h.sims.oauth, openid, round.state);
  return h.request('POST', '/v1/session', { body: back, headers: { cookie: round.cookie } });
}

interface Check {
  what: string;
  run: () => Promise<Reply>;
}

/** Calls that need the failing system: bounded in time; 200 (a remembered answer) or the envelope. */
function needing(system: System): Check[] {
  switch (system) {
    case 'koala':
      return [
        // A remembered employee is re-read from Koala (KOALA_STAFF_REFRESH_SECONDS=0) and used as remembered when Koala fails.
        { what: 'POST /v1/subject (invitation)', run: invite },
        { what: 'GET /v1/subject/purpose', run: () => h.request('GET', '/v1/subject/purpose', { token: host }) },
        {
          what: 'POST /v1/subject/binding (staff not yet remembered)',
          run: async () =>
            h.request('POST', '/v1/subject/binding', {
              token: await h.session(`wx-out-lina-${nameSeq++}`),
              body: { name: STAFF.lina.name, phone: STAFF.lina.phone },
            }),
        },
      ];
    case 'cloud':
      // A session whose binding this process has not looked up yet: the cloud must be asked.
      return [
        {
          what: 'GET /v1/auth/records (binding lookup)',
          run: async () => h.request('GET', '/v1/auth/records?size=5', { token: await h.session(`wx-out-new-${nameSeq++}`) }),
        },
      ];
    case 'sms':
      return [{ what: 'POST /v1/sms/code', run: () => h.request('POST', '/v1/sms/code', { token: visitor, body: { phone: newPhone('137') } }) }];
    case 'oauth':
      return [{ what: 'POST /v1/session', run: () => signIn('wx-out-oauth') }];
  }
}

/** Calls that must keep answering 200 while that system fails. */
function unaffected(system: System): Check[] {
  const records: Check = { what: 'GET /v1/auth/records', run: () => h.request('GET', '/v1/auth/records?size=5', { token: host }) };
  const isBinding: Check = {
    what: 'GET /v1/wechat/is_binding',
    run: () => h.request('GET', '/v1/wechat/is_binding?weixinUserId=wx-out-host', { token: host }),
  };
  switch (system) {
    case 'koala':
      return [records, { what: 'GET /v1/visit/records', run: () => h.request('GET', '/v1/visit/records?size=5', { token: visitor }) }, isBinding];
    case 'cloud':
      // A new session needs OAuth only (the binding is asked for by the routes that need it).
      return [
        { what: 'GET /readyz', run: () => h.request('GET', '/readyz') },
        { what: 'POST /v1/session', run: () => signIn(`wx-out-s-${nameSeq++}`) },
      ];
    case 'sms':
      return [records, isBinding];
    case 'oauth':
      return [records, { what: 'POST /v1/subject', run: invite }];
  }
}

const SYSTEMS: System[] = ['koala', 'cloud', 'sms', 'oauth'];
const KINDS = Object.keys(FAULTS) as Kind[];
const TABLE = SYSTEMS.flatMap((system) => KINDS.map((kind) => ({ system, kind })));
const figures: Array<Record<string, unknown>> = [];

describe('outside systems down, slow or wrong', () => {
  it.each(TABLE)(
    '$system $kind',
    async ({ system, kind }) => {
      const sim = server(system);
      const removers: Array<() => void> = [];
      try {
        // Messages queued while the channel fails (SMS, WeChat): the application is written
        // first (it needs the cloud's binding lookup), with only message sending broken.
        let appId: number | null = null;
        if (system === 'sms' || system === 'cloud') {
          removers.push(sim.addFault({ ...FAULTS[kind], path: system === 'sms' ? '/' : '/v2/message' }));
          const created = await invite();
          expect(created.status).toBe(200);
          appId = created.body.data.id as number;
        }
        removers.push(sim.addFault(FAULTS[kind]));

        let slowest = 0;
        for (const check of needing(system)) {
          const res = await timed(check.run);
          slowest = Math.max(slowest, res.ms);
          expect(res.ms, `${check.what} answered after ${res.ms} ms`).toBeLessThan(ANSWER_BOUND_MS);
          if (res.status !== 200) expectUpstreamEnvelope(res, check.what);
        }
        for (const check of unaffected(system)) {
          const res = await timed(check.run);
          expect(res.status, `${check.what}: ${JSON.stringify(res.body)}`).toBe(200);
          expect(res.ms, `${check.what} answered after ${res.ms} ms`).toBeLessThan(ANSWER_BOUND_MS);
        }

        let deliveredAfterMs: number | null = null;
        if (appId !== null) {
          const channel = system === 'sms' ? 'sms' : 'wechat';
          // At least one failed attempt on every notification of the channel, none delivered…
          const failing = await h.waitFor(
            async () => {
              const rows = (await notificationsOf(h, appId)).filter((r) => r.channel === channel);
              return rows.length > 0 && rows.every((r) => r.status === 'pending' && r.lastError !== null) ? rows : null;
            },
            { timeoutMs: 10_000, what: `a failed ${channel} attempt under ${kind}` },
          );
          if (channel === 'sms') expect(h.sims.sms.messages().filter((m) => failing.some((r) => String(r.id) === m.out_id))).toEqual([]);
          else expect(h.sims.cloud.messages().filter((m) => failing.some((r) => r.phone === m.phone))).toEqual([]);
        }
        for (const remove of removers.splice(0)) remove();

        if (appId !== null) {
          // …then, with the system back, every notification is delivered, each once.
          const recovered = Date.now();
          const rows = await h.waitFor(
            async () => {
              const r = await notificationsOf(h, appId);
              return r.every((x) => x.status === 'sent') ? r : null;
            },
            { timeoutMs: 10_000, what: `delivery after ${system} ${kind} ends` },
          );
          deliveredAfterMs = Date.now() - recovered;
          const outIds = h.sims.sms.messages().map((m) => m.out_id);
          for (const r of rows.filter((x) => x.channel === 'sms')) expect(outIds.filter((o) => o === String(r.id))).toHaveLength(1);
        }
        figures.push({ system, kind, slowestAnswerMs: slowest, deliveredAfterRecoveryMs: deliveredAfterMs });
      } finally {
        for (const remove of removers) remove();
      }
    },
    30_000,
  );

  it('prints the figures', () => {
    console.log(`[faults] outages ${JSON.stringify(figures)}`);
    expect(figures).toHaveLength(TABLE.length);
  });
});
