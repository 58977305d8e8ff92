import { futureWindow, STAFF, type Sims } from './harness.js';
import { fetchPost, oauthSignIn } from './oauth.js';
import { call, sleep, type CallResult } from './service-process.js';

/**
 * Concurrent visit traffic against one or more running service processes: staff invitations
 * (with one companion who has no WeChat), visitor requests, and the hosts' authorizations of
 * those requests. Every answer is recorded, so the test can hold the database to what was
 * answered 200.
 */
export interface Actors {
  hosts: Array<{ token: string; name: string; phone: string }>;
  visitors: Array<{ token: string; phone: string }>;
}

export interface LoadLedger {
  /** Application id → who may authorize it (visitor requests only). */
  requests: Map<number, number>;
  /** Every application answered 200 (invitations and requests). */
  answered: Set<number>;
  /** Requests whose authorization was answered 200. */
  authorized: Set<number>;
  /** Visitor requests answered 200 and not yet authorized (or tried). */
  pendingAuth: number[];
  sent: number;
  /** Answers by status (0 = connection refused or reset: the process was down). */
  statuses: Map<number, number>;
  /** Slowest answer seen (ms). */
  slowestMs: number;
  /** Bodies of 5xx answers. */
  failures: unknown[];
}

export function newLedger(): LoadLedger {
  return { requests: new Map(), answered: new Set(), authorized: new Set(), pendingAuth: [], sent: 0, statuses: new Map(), slowestMs: 0, failures: [] };
}

/** Sessions through the real OAuth exchange; they are signed tokens, so they outlive restarts. */
export async function makeActors(base: string, sims: Pick<Sims, 'oauth' | 'cloud'>, tag: string, visitorCount = 4): Promise<Actors> {
  const session = async (openid: string): Promise<string> => {
    const res = await oauthSignIn(fetchPost(base), sims.oauth, openid);
    if (res.status !== 200) throw new Error(`session for ${openid}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.data.token as string;
  };
  const hosts = [];
  for (const s of [STAFF.zhangwei, STAFF.lina]) {
    const openid = `${tag}-host-${s.subjectId}`;
    sims.cloud.bind(openid, s.phone);
    hosts.push({ token: await session(openid), name: s.name, phone: s.phone });
  }
  const visitors = [];
  for (let i = 0; i < visitorCount; i++) {
    const phone = `1390000${String(7000 + i).padStart(4, '0')}`;
    const openid = `${tag}-visitor-${i}`;
    sims.cloud.bind(openid, phone);
    visitors.push({ token: await session(openid), phone });
  }
  return { hosts, visitors };
}

let nameSeq = 0;
/** A visitor name unique in the run (it identifies the WeChat messages of one application). */
function uniqueName(): string {
  nameSeq += 1;
  return `访客${process.pid % 1000}-${nameSeq}`;
}

/**
 * `concurrency` loops, each sending one request at a time to `bases()` (round-robin when there
 * are several), until `running()` turns false. A quarter of the loops authorize pending
 * requests when there are any.
 */
export async function runLoad(o: {
  bases: () => string[];
  actors: Actors;
  ledger: LoadLedger;
  concurrency: number;
  running: () => boolean;
  timeoutMs?: number;
}): Promise<void> {
  const { actors, ledger } = o;
  let turn = 0;
  const nextBase = () => {
    const list = o.bases();
    turn += 1;
    return list[turn % list.length]!;
  };
  const note = async (res: CallResult) => {
    ledger.statuses.set(res.status, (ledger.statuses.get(res.status) ?? 0) + 1);
    ledger.sent += 1;
    if (res.status !== 0) ledger.slowestMs = Math.max(ledger.slowestMs, res.ms);
    if (res.status >= 500) ledger.failures.push(res.body);
    // A refusal comes back at once: do not spin on it.
    if (res.status !== 200) await sleep(50);
  };
  const loop = async (i: number) => {
    let n = 0;
    while (o.running()) {
      n += 1;
      const host = actors.hosts[(i + n) % actors.hosts.length]!;
      if (i % 4 === 0 && ledger.pendingAuth.length > 0) {
        const id = ledger.pendingAuth.shift()!;
        const who = actors.hosts[ledger.requests.get(id)!]!;
        const res = await call(nextBase(), 'PUT', `/v1/auth/${id}`, { token: who.token, timeoutMs: o.timeoutMs });
        await note(res);
        if (res.status === 200) ledger.authorized.add(id);
        continue;
      }
      if (i % 2 === 1) {
        const visitor = actors.visitors[(i + n) % actors.visitors.length]!;
        const body = { name: uniqueName(), phone: visitor.phone, interviewee: host.name, interviewee_phone: host.phone, ...futureWindow(1 + (n % 24)) };
        const res = await call(nextBase(), 'POST', '/v1/subject', { token: visitor.token, body, timeoutMs: o.timeoutMs });
        await note(res);
        if (res.status === 200) {
          const id = res.body.data.id as number;
          ledger.answered.add(id);
          ledger.requests.set(id, actors.hosts.indexOf(host));
          ledger.pendingAuth.push(id);
        }
      } else {
        const visitor = actors.visitors[(i + n) % actors.visitors.length]!;
        const companion = `1370000${String(i * 1000 + (n % 1000))
          .padStart(4, '0')
          .slice(-4)}`;
        const body = {
          name: uniqueName(),
          phone: visitor.phone,
          interviewee: host.name,
          interviewee_phone: host.phone,
          ...futureWindow(1 + (n % 24)),
          retinues: [{ name: '同行', phone: companion }],
        };
        const res = await call(nextBase(), 'POST', '/v1/subject', { token: host.token, body, timeoutMs: o.timeoutMs });
        await note(res);
        if (res.status === 200) ledger.answered.add(res.body.data.id as number);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, i) => loop(i)));
}
