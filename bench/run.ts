/**
 * `npm run bench -- --size 1m` — measures the service against the baseline on one database
 * (USAGE below, printed by `npm run bench -- --help`). All load goes to 127.0.0.1 and every run is
 * bounded by --duration (or by a message count).
 */
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type autocannon from 'autocannon';
import { measureColdStart, type ColdStartResult } from './lib/coldstart.js';
import { applierPhone, datasetShape, hostName, hostPhone } from './lib/dataset.js';
import { benchDbName, databaseExists, dbUrl, dropDatabase, parseSize } from './lib/db.js';
import { exchangeCode } from './lib/sign-in.js';
import { pick, runLoad, setQuietWait, waitForQuiet, type LoadResult } from './lib/load.js';
import { processCpuSeconds, startChild, type Child } from './lib/proc.js';
import type { SimEndpoints } from './lib/child.js';
import { summarize, type CpuProfile, type ProfileSummary } from './lib/profile.js';
import { generate } from './generate.js';
import { startCluster } from './lib/cluster.js';
import { randomSecret } from '../src/config.js';
import { RECORDS_SQL } from './baseline.js';

const OUT = fileURLToPath(new URL('./out/', import.meta.url));

/** What --only may name. */
const MEASUREMENTS = [
  'baseline',
  'records',
  'auth-records',
  'binding',
  'apply',
  'apply-sms-1s',
  'records-cluster',
  'auth-records-cluster',
  'apply-cluster',
  'dispatch',
  'cold-start',
] as const;

const USAGE = `npm run bench -- --size 10k|1m|10m [options]   measures the service against the baseline

  --size 10k|1m|10m   the data set (database laifang_bench_<size>; generated first when it
                      does not exist, and then dropped at the end unless --keep)
  --db NAME           an existing database instead (never dropped)
  --duration 10       seconds per measurement      --connections 50
  --callers 500       sessions per list route       --dispatch 4000 (messages)
  --apply-callers 5000
                      members of staff the apply runs invite from, in turn: at the product's
                      hourly limit (APPLY_PER_HOUR, 20) a run answers at most 20 per caller, so
                      at most 20 × this many applications (more are refused 429)
  --only a,b          only these measurements (names below); the baseline always runs
  --no-cold-start     skip the embedded-mode cold start   --cpu-prof   also profile each route (5 s, not timed)
  --sims in-process   where the protocol simulators run: in the service's process (as the tests
                      run them; default) or "separate" (their own process); the dispatch is
                      measured both ways in any case
  --service-env K=V,… extra configuration for the service (e.g. NOTIFY_BATCH_SIZE=200)
  --quiet-wait 300    seconds to wait at most for an idle machine before each run
  --processes 2       workers of the clustered service (WEB_CONCURRENCY) in the *-cluster runs
  --help              this text

Measurements: ${MEASUREMENTS.join(', ')}
  (*-cluster: the same routes, the service run by src/main.ts with WEB_CONCURRENCY=--processes).
Results: a table on stdout, JSON and Markdown under bench/out/.`;

interface Caller {
  token: string;
  phone: string;
}

interface DispatchResult {
  name: string;
  /** Share of one core over the dispatch. */
  cpu: { service: number; sims: number | null };
  messages: number;
  queueSeconds: number;
  seconds: number;
  perSecond: number;
  statuses: Record<string, number>;
}

interface SqlTrace {
  route: string;
  requests: number;
  statementsPerRequest: number;
  statements: Array<{ text: string; perRequest: number }>;
}

interface Report {
  date: string;
  machine: { nproc: number; cpu: string; memGb: number; node: string; postgres: string };
  database: { name: string; applications: number; people: number; bytes: number; generatedSeconds: number | null };
  options: Record<string, unknown>;
  runs: LoadResult[];
  dispatch: DispatchResult[];
  traces: SqlTrace[];
  explain: Array<{ what: string; phone: string; records: number; plan: string }>;
  profiles: Array<{ name: string; summary: ProfileSummary }>;
  coldStart: ColdStartResult | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** Real sessions: bind in the cloud simulator, an OAuth code, POST /v1/session over HTTP. */
async function mintSessions(service: Child, sims: Child, pairs: Array<[string, string]>): Promise<Caller[]> {
  await sims.call('bind', pairs);
  const codes = await sims.call<string[]>(
    'codes',
    pairs.map((p) => p[0]),
  );
  const tokens = await mapLimit(codes, 16, (code) => exchangeCode(service.url, code));
  return pairs.map(([, phone], i) => ({ phone, token: tokens[i]! }));
}

async function sampleCallers(db: pg.Client, k: number): Promise<{ involved: string[]; proposers: string[] }> {
  const { rows: maxRows } = await db.query<{ max: string }>('select max(id)::text as max from applications');
  const max = Number(maxRows[0]!.max);
  // A random non-proposer row of a random application: callers in proportion to how many
  // records they appear in (the busy hosts come up, as they do in real traffic).
  const { rows: involved } = await db.query<{ phone: string }>(
    `select distinct on (p.application_id) p.phone
       from (select (1 + floor(random() * $1))::bigint as id from generate_series(1, $2::int)) r
       join application_people p on p.application_id = r.id and not p.is_proposer
      order by p.application_id, random()`,
    [max, k * 3],
  );
  const { rows: proposers } = await db.query<{ phone: string }>(
    `select a.proposer as phone from (select (1 + floor(random() * $1))::bigint as id from generate_series(1, $2::int)) r join applications a on a.id = r.id`,
    [max, k * 3],
  );
  const distinct = (rows: Array<{ phone: string }>) => [...new Set(rows.map((r) => r.phone))].sort(() => Math.random() - 0.5).slice(0, k);
  return { involved: distinct(involved), proposers: distinct(proposers) };
}

/** Set when the service runs with NOTIFY_SEND=false: nothing sends, so nothing is waited for. */
let nobodySends = false;

async function waitForNotifications(db: pg.Client, where: string, timeoutMs: number): Promise<boolean> {
  if (nobodySends) {
    // The rows a run left would be sent by the next run's service on a kept database: they are
    // marked failed instead (they were never meant to reach anyone).
    await db.query(`update notifications set status = 'failed', last_error = 'bench: NOTIFY_SEND=false' where status = 'pending' and ${where}`);
    return true;
  }
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from notifications where status = 'pending' and ${where}`);
    if (rows[0]!.n === 0) return true;
    if (Date.now() > until) return false;
    await sleep(100);
  }
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

function markdown(r: Report): string {
  const base = r.runs.find((x) => x.name === 'baseline');
  const ratio = (a: number, b: number | undefined) => (b ? `${fmt(a / b, 2)}×` : '–');
  const lines = [
    `### ${r.database.name}: ${r.database.applications.toLocaleString('en')} applications, ${r.database.people.toLocaleString('en')} people rows (${fmt(r.database.bytes / 2 ** 30, 2)} GiB)`,
    '',
    `${r.date}, ${r.machine.nproc} cores (${r.machine.cpu}), ${r.machine.memGb} GB, Node ${r.machine.node}, ${r.machine.postgres}; ${r.options.connections} connections × ${r.options.duration} s per run, ${r.options.callers} callers per list route.`,
    '',
    '| run | req/s | × baseline | p50 ms | × baseline | p99 ms | × baseline | failed | server event loop busy | CPU cores: server / postgres / loadgen / other | simulator calls per request |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
    ...r.runs.map(
      (x) =>
        `| ${x.name} | ${fmt(x.rps, 0)} | ${ratio(x.rps, base?.rps)} | ${fmt(x.p50)} | ${ratio(x.p50, base?.p50)} | ${fmt(x.p99)} | ${ratio(x.p99, base?.p99)} | ${x.failed} | ${x.eventLoop === undefined ? '–' : `${fmt(x.eventLoop * 100, 0)}%`} | ${fmt(x.cpu.server, 2)} / ${fmt(x.cpu.postgres, 2)} / ${fmt(x.cpu.loadgen, 2)} / ${fmt(x.cpu.other, 2)} | ${
          x.upstreamPerRequest
            ? Object.entries(x.upstreamPerRequest)
                .filter(([, v]) => v > 0)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')
            : ''
        } |`,
    ),
  ];
  const drains = r.runs.filter((x) => x.outbox);
  if (drains.length) {
    lines.push('', '| run | messages in the outbox when the load stopped | all sent after s |', '|---|---:|---:|');
    for (const x of drains)
      lines.push(`| ${x.name} | ${x.outbox!.pendingAtEnd} | ${x.outbox!.drainedSeconds === null ? 'not within 300' : fmt(x.outbox!.drainedSeconds, 1)} |`);
  }
  if (r.dispatch.length) {
    lines.push(
      '',
      '| dispatch | messages | queued in s | all recorded in s | messages/s | outcomes | CPU cores: service / simulators |',
      '|---|---:|---:|---:|---:|---|---|',
    );
    for (const d of r.dispatch)
      lines.push(
        `| ${d.name} | ${d.messages} | ${fmt(d.queueSeconds, 2)} | ${fmt(d.seconds, 2)} | ${fmt(d.perSecond, 0)} | ${JSON.stringify(d.statuses)} | ${fmt(d.cpu.service, 2)} / ${d.cpu.sims === null ? 'in the service' : fmt(d.cpu.sims, 2)} |`,
      );
  }
  if (r.traces.length) {
    lines.push('', '| route | SQL statements per request |', '|---|---:|');
    for (const t of r.traces) lines.push(`| ${t.route} | ${fmt(t.statementsPerRequest, 2)} |`);
  }
  if (r.coldStart) {
    const c = r.coldStart;
    lines.push(
      '',
      `Embedded (PGlite, ${c.applications} applications): spawn → /healthz 200 (modules loaded, listening) → /readyz 200 (database open, migrated, queue started)`,
      '',
      '| mode | healthz ms | ready ms | RSS MB | peak RSS MB |',
      '|---|---:|---:|---:|---:|',
    );
    for (const x of c.runs) lines.push(`| ${x.mode} | ${x.healthzMs} | ${x.readyMs} | ${x.rssMb} | ${x.peakMb} |`);
    if (c.afterLoad)
      lines.push(
        `| after ${c.afterLoad.load.seconds} s of GET /v1/visit/records (${fmt(c.afterLoad.load.rps, 0)} req/s, p99 ${fmt(c.afterLoad.load.p99)} ms) | | | ${c.afterLoad.rssMb} | ${c.afterLoad.peakMb} |`,
      );
    for (const p of c.probes) lines.push(`| ${p.what} | | ${p.ms} | ${p.rssMb} | ${p.peakMb} |`);
  }
  for (const p of r.profiles) {
    lines.push(
      '',
      `Profile of the ${p.name === 'baseline' ? 'baseline' : 'service'} process under ${p.name} (main thread ${fmt(p.summary.busy * 100, 0)}% busy): ${p.summary.categories
        .slice(0, 8)
        .map((c) => `${c.name} ${fmt(c.share * 100, 0)}%`)
        .join(', ')}`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string' },
      db: { type: 'string' },
      keep: { type: 'boolean', default: false },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      callers: { type: 'string', default: '500' },
      dispatch: { type: 'string', default: '4000' },
      only: { type: 'string' },
      'no-cold-start': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      sims: { type: 'string', default: 'in-process' },
      'service-env': { type: 'string' },
      'quiet-wait': { type: 'string', default: '300' },
      processes: { type: 'string', default: '2' },
      'apply-callers': { type: 'string', default: '5000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.size && !values.db) {
    console.error(`${USAGE}\n\n--size or --db is required`);
    process.exit(2);
  }
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const callersWanted = Number(values.callers);
  const dispatchMessages = Number(values.dispatch);
  if (!(duration > 0 && duration <= 120) || !(connections > 0 && connections <= 1000)) throw new Error('--duration is 1–120 s, --connections 1–1000');
  setQuietWait(Number(values['quiet-wait']));
  const only = values.only ? new Set(values.only.split(',')) : null;
  const unknown = [...(only ?? [])].filter((m) => !(MEASUREMENTS as readonly string[]).includes(m));
  if (unknown.length) throw new Error(`--only ${unknown.join(',')}: not a measurement (${MEASUREMENTS.join(', ')})`);
  const applyCallers = Number(values['apply-callers']);
  if (!(Number.isInteger(applyCallers) && applyCallers >= 1 && applyCallers <= 100_000)) throw new Error('--apply-callers is 1–100000');
  const serviceEnv = Object.fromEntries(
    (values['service-env'] ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  nobodySends = serviceEnv.NOTIFY_SEND === 'false';
  const want = (name: string) => !only || only.has(name);
  const sessionSecret = randomSecret();

  const name = values.db ?? benchDbName(parseSize(values.size!));
  let generatedSeconds: number | null = null;
  let created = false;
  if (!(await databaseExists(name))) {
    if (values.db) throw new Error(`database ${name} does not exist`);
    const g = await generate({ applications: parseSize(values.size!) });
    generatedSeconds = g.seconds.total ?? null;
    created = true;
  }
  const url = dbUrl(name);
  const db = new pg.Client({ connectionString: url });
  await db.connect();

  let baseline: Child | null = null;
  let service: Child | null = null;
  let simsChild: Child | null = null;
  let simsEndpoints: SimEndpoints | undefined;
  const report: Report = {
    date: new Date().toISOString(),
    machine: {
      nproc: cpus().length,
      cpu: cpus()[0]?.model ?? '?',
      memGb: Math.round(Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)?.[1] ?? 0) / 2 ** 20),
      node: process.version,
      postgres: '',
    },
    database: { name, applications: 0, people: 0, bytes: 0, generatedSeconds },
    options: {
      duration,
      connections,
      callers: callersWanted,
      applyCallers,
      dispatch: dispatchMessages,
      only: values.only ?? null,
      sims: values.sims,
      serviceEnv,
    },
    runs: [],
    dispatch: [],
    traces: [],
    explain: [],
    profiles: [],
    coldStart: null,
  };
  mkdirSync(OUT, { recursive: true });
  const stamp = `${name.replace(/^laifang_bench_/, '')}-${report.date.slice(0, 19).replace(/[:T]/g, '-')}`;

  try {
    const { rows: info } = await db.query<{ v: string; apps: string; people: string; bytes: string }>(
      `select version() as v, (select count(*) from applications)::text as apps, (select count(*) from application_people)::text as people, pg_database_size(current_database())::text as bytes`,
    );
    report.machine.postgres = info[0]!.v.split(' on ')[0]!;
    report.database.applications = Number(info[0]!.apps);
    report.database.people = Number(info[0]!.people);
    report.database.bytes = Number(info[0]!.bytes);
    // The generated size (rows that apply runs added to a kept database come after it).
    const { rows: gen } = await db.query<{ n: string }>(`select coalesce(max(id), 0)::text as n from applications where proposer_weixin_user_id like 'wx-%'`);
    const shape = datasetShape(Number(gen[0]!.n));
    console.log(`Benchmark on ${name}: ${report.database.applications} applications, ${report.database.people} people rows`);

    const sample = await sampleCallers(db, callersWanted);
    if (values.sims === 'separate') {
      simsChild = await startChild({ role: 'sims', databaseUrl: url });
      simsEndpoints = await simsChild.call<SimEndpoints>('endpoints');
    } else if (values.sims !== 'in-process') throw new Error('--sims is in-process or separate');
    [baseline, service] = await Promise.all([
      startChild({ role: 'baseline', databaseUrl: url }),
      startChild({ role: 'service', databaseUrl: url, sims: simsEndpoints, env: { SESSION_SECRET: sessionSecret, ...serviceEnv } }),
    ]);
    const sims = simsChild ?? service;
    console.log(
      `baseline ${baseline.url} (pid ${baseline.pid}), service ${service.url} (pid ${service.pid}), simulators ${simsChild ? `pid ${simsChild.pid}` : 'in the service process'}`,
    );

    // Hosts the binding route can find in Koala (the busiest ones), and the members of staff the
    // apply runs invite from, as employees; all of them before any request, so the service's first
    // pass through Koala's directory has them all (a pass left by an earlier run is forgotten).
    const staffCount = Math.min(100, shape.hosts);
    await sims.call('addEmployees', [
      ...Array.from({ length: staffCount }, (_, h) => ({ name: hostName(h), phone: hostPhone(h), department: '研发部' })),
      ...Array.from({ length: applyCallers }, (_, i) => ({ name: `压测员工${i}`, phone: applierPhone(i), department: '压测部' })),
    ]);
    await db.query(`delete from app_state where key = 'koala_directory_scanned_at'`);
    const involved = await mintSessions(
      service,
      sims,
      sample.involved.map((p, i) => [`bench-r-${i}`, p]),
    );
    const proposers = await mintSessions(
      service,
      sims,
      sample.proposers.map((p, i) => [`bench-a-${i}`, p]),
    );
    const staff = await mintSessions(
      service,
      sims,
      Array.from({ length: staffCount }, (_, h) => [`bench-s-${h}`, hostPhone(h)]),
    );
    const appliers = await mintSessions(
      service,
      sims,
      Array.from({ length: applyCallers }, (_, i) => [`bench-apply-${i}`, applierPhone(i)]),
    );
    console.log(`sessions: ${involved.length} involved, ${proposers.length} proposers, ${staff.length} staff, ${appliers.length} staff who invite`);

    // The requests of each measurement.
    let visitorSeq = 0;
    const visitorBase = 17_000_000_000 + (Date.now() % 1_000_000) * 1000;
    // The apply runs take the staff who invite in turn, from the first at the start of each run,
    // and each run starts with their hourly windows empty (measure below): no caller applies more
    // than ceil(requests / applyCallers) times in a run, within the product's limit as long as a
    // run answers at most 20 × applyCallers.
    let applierTurn = 0;
    const nextApplier = () => appliers[applierTurn++ % appliers.length]!;
    const invitation = (c: Caller) => {
      const seq = visitorSeq++;
      const start = Math.floor(Date.now() / 1000) + 3600;
      return JSON.stringify({
        name: `访客${seq}`,
        phone: String(visitorBase + seq),
        interviewee: '员工',
        interviewee_phone: c.phone,
        start_time: start,
        end_time: start + 7200,
        purpose: 2,
        come_from: '压测公司',
      });
    };
    const applyRequest: autocannon.RequestSpec = {
      method: 'POST',
      setupRequest: (req) => {
        const c = nextApplier();
        return {
          ...req,
          method: 'POST',
          path: '/v1/subject',
          headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
          body: invitation(c),
        };
      },
    };
    const routes: Record<string, { target: Child; requests: autocannon.RequestSpec[] }> = {
      baseline: { target: baseline, requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/records?phone=${pick(involved).phone}` }) }] },
      records: {
        target: service,
        requests: [
          {
            method: 'GET',
            setupRequest: (req) => {
              const c = pick(involved);
              return { ...req, path: `/v1/visit/records?phone=${c.phone}&page=1&size=5`, headers: { authorization: `Bearer ${c.token}` } };
            },
          },
        ],
      },
      'auth-records': {
        target: service,
        requests: [
          {
            method: 'GET',
            setupRequest: (req) => {
              const c = pick(proposers);
              return { ...req, path: `/v1/auth/records?proposer=${c.phone}&page=1&size=5`, headers: { authorization: `Bearer ${c.token}` } };
            },
          },
        ],
      },
      binding: {
        target: service,
        requests: [
          { method: 'GET', setupRequest: (req) => ({ ...req, path: '/v1/subject/binding', headers: { authorization: `Bearer ${pick(staff).token}` } }) },
        ],
      },
      // Invitations from the staff who invite, in turn (real traffic has many callers, each within
      // its hourly limit).
      apply: { target: service, requests: [applyRequest] },
      'apply-sms-1s': { target: service, requests: [applyRequest] },
      'apply-warm-up': { target: service, requests: [applyRequest] },
    };
    const measure = async (run: string, seconds = duration, label = run): Promise<LoadResult> => {
      const r = routes[run]!;
      await sleep(500); // what the previous run left in flight is answered first
      const busy = await waitForQuiet();
      if (busy >= 0.3) console.log(`  (measuring anyway with ${busy.toFixed(2)} cores busy elsewhere)`);
      if (run.startsWith('apply')) {
        // Every apply run starts with its callers' hourly windows empty, as after an hour without
        // applications, and from the first of them: runs compare whatever ran in the hour before.
        await db.query('delete from apply_windows where phone = any($1::text[])', [appliers.map((c) => c.phone)]);
        applierTurn = 0;
      }
      const before = r.target === service ? await sims.call<Record<string, number>>('simStats') : null;
      const elu0 = await r.target.call<{ active: number; idle: number }>('elu');
      const res = await runLoad({ name: label, url: r.target.url, serverPid: r.target.pid, connections, durationSeconds: seconds, requests: r.requests });
      const elu1 = await r.target.call<{ active: number; idle: number }>('elu');
      res.eventLoop = (elu1.active - elu0.active) / Math.max(1, elu1.active - elu0.active + elu1.idle - elu0.idle);
      if (before) {
        const after = await sims.call<Record<string, number>>('simStats');
        res.upstreamPerRequest = Object.fromEntries(
          Object.keys(after).map((k) => [k, Math.round(((after[k]! - before[k]!) / Math.max(1, res.ok)) * 100) / 100]),
        );
      }
      if (run.startsWith('apply') && !nobodySends && seconds === duration && !label.startsWith('profiled')) {
        // Sending gives way to requests (NOTIFY_YIELD_AT): what waited in the outbox, and when it was all sent.
        const t0 = performance.now();
        const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from notifications where status = 'pending'`);
        const drained = await waitForNotifications(db, 'true', 300_000);
        res.outbox = { pendingAtEnd: rows[0]!.n, drainedSeconds: drained ? (performance.now() - t0) / 1000 : null };
        console.log(
          `  ${''.padEnd(28)} outbox at the end: ${res.outbox.pendingAtEnd} messages, all sent ${drained ? `${fmt(res.outbox.drainedSeconds!, 1)} s` : 'not within 300 s'} later`,
        );
      }
      if (run.startsWith('apply') && res.ok + res.failed > 20 * appliers.length) {
        console.log(`  (${res.ok + res.failed} applications from ${appliers.length} callers: more than 20 each; use a larger --apply-callers)`);
      }
      const bad = res.failed > 0 ? `  ← ${res.failed} FAILED ${JSON.stringify(res.statusCodes)}` : '';
      console.log(
        `  ${label.padEnd(28)} ${fmt(res.rps, 0).padStart(6)} req/s  p50 ${fmt(res.p50).padStart(6)} ms  p99 ${fmt(res.p99).padStart(6)} ms  loop ${fmt(res.eventLoop ?? NaN, 2)}  cpu svc ${fmt(res.cpu.server, 2)} pg ${fmt(res.cpu.postgres, 2)} lg ${fmt(res.cpu.loadgen, 2)} other ${fmt(res.cpu.other, 2)}${bad}`,
      );
      return res;
    };

    // Warm-up (not recorded): plans, pools, JIT, identity and staff caches.
    console.log('warm-up');
    await mapLimit(staff, 8, async (c) => {
      const res = await fetch(`${service!.url}/v1/subject/binding`, { headers: { authorization: `Bearer ${c.token}` } });
      if (res.status !== 200) throw new Error(`warm-up binding: ${res.status} ${await res.text()}`);
    });
    await measure('baseline', 3, 'warm-up baseline');
    await measure('records', 3, 'warm-up records');
    if (want('apply')) await measure('apply-warm-up', 2, 'warm-up apply');

    // Statements per request, with their text (for EXPLAIN below): a few sequential requests each.
    const traced: Array<[string, () => Promise<Response>]> = [
      [
        'GET /v1/visit/records',
        () => {
          const c = pick(involved);
          return fetch(`${service!.url}/v1/visit/records?phone=${c.phone}&page=1&size=5`, { headers: { authorization: `Bearer ${c.token}` } });
        },
      ],
      [
        'GET /v1/auth/records',
        () => {
          const c = pick(proposers);
          return fetch(`${service!.url}/v1/auth/records?proposer=${c.phone}&page=1&size=5`, { headers: { authorization: `Bearer ${c.token}` } });
        },
      ],
      ['GET /v1/subject/binding', () => fetch(`${service!.url}/v1/subject/binding`, { headers: { authorization: `Bearer ${pick(staff).token}` } })],
      [
        'POST /v1/subject',
        () => {
          const c = nextApplier();
          return fetch(`${service!.url}/v1/subject`, {
            method: 'POST',
            headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
            body: invitation(c),
          });
        },
      ],
    ];
    let seq = 0;
    const dispatchRun = async (label: string, delayMs: number, svc: Child, simHost: Child) => {
      const apps = Array.from({ length: Math.ceil(dispatchMessages / 2) }, (_, i) => ({
        id: 1 + i,
        phone: String(16_000_000_000 + (Date.now() % 100_000) * 10_000 + seq++),
        name: `通知${i}`,
      }));
      await simHost.call(
        'bind',
        apps.map((a) => [`notify-${a.phone}`, a.phone]),
      );
      await simHost.call('fault', { sims: ['sms', 'cloud'], fault: delayMs ? { delayMs } : null });
      await waitForQuiet();
      const cpu0 = { svc: processCpuSeconds(svc.pid), sims: simHost === svc ? 0 : processCpuSeconds(simHost.pid) };
      const t0 = performance.now();
      const q = await svc.call<{ ids: number; minId: number; maxId: number }>('queueNotifications', apps);
      const queued = performance.now();
      const done = await waitForNotifications(db, `id between ${q.minId} and ${q.maxId}`, 300_000);
      const t1 = performance.now();
      const cpu = {
        service: (processCpuSeconds(svc.pid) - cpu0.svc) / ((t1 - t0) / 1000),
        sims: simHost === svc ? null : (processCpuSeconds(simHost.pid) - cpu0.sims) / ((t1 - t0) / 1000),
      };
      await simHost.call('fault', { sims: ['sms', 'cloud'], fault: null });
      const { rows } = await db.query<{ status: string; n: number }>(
        `select status, count(*)::int as n from notifications where id between $1 and $2 group by 1`,
        [q.minId, q.maxId],
      );
      const d: DispatchResult = {
        name: label,
        messages: q.ids,
        queueSeconds: (queued - t0) / 1000,
        seconds: (t1 - t0) / 1000,
        perSecond: q.ids / ((t1 - t0) / 1000),
        statuses: Object.fromEntries(rows.map((r) => [r.status, r.n])),
        cpu,
      };
      if (!done) d.name += ' (TIMED OUT)';
      console.log(
        `  ${label.padEnd(28)} ${d.messages} messages in ${fmt(d.seconds, 2)} s → ${fmt(d.perSecond, 0)}/s ${JSON.stringify(d.statuses)} cpu service ${fmt(cpu.service, 2)}${cpu.sims === null ? '' : ` sims ${fmt(cpu.sims, 2)}`}`,
      );
      report.dispatch.push(d);
    };

    let recordsStatements: Array<{ text: string; values: unknown }> = [];
    for (const [route, call] of traced) {
      await waitForNotifications(db, 'true', 30_000);
      await sleep(1000);
      const n = 20;
      await service.call('traceStart');
      for (let i = 0; i < n; i++) {
        const res = await call();
        await res.arrayBuffer();
      }
      const seen = await service.call<Array<{ text: string; count: number; values: unknown }>>('traceStop');
      const total = seen.reduce((a, s) => a + s.count, 0);
      report.traces.push({ route, requests: n, statementsPerRequest: total / n, statements: seen.map((s) => ({ text: s.text, perRequest: s.count / n })) });
      if (route === 'GET /v1/visit/records') recordsStatements = seen.filter((s) => /application_people/.test(s.text));
    }

    // Plans of the records query for a typical caller and the busiest host.
    const counts: Array<{ phone: string; n: number }> = [];
    for (const c of involved.slice(0, 200)) {
      const { rows } = await db.query<{ n: number }>('select count(*)::int as n from application_people where phone = $1 and not is_proposer', [c.phone]);
      counts.push({ phone: c.phone, n: rows[0]!.n });
    }
    counts.sort((a, b) => a.n - b.n);
    const median = counts[Math.floor(counts.length / 2)]!;
    const heavy = {
      phone: hostPhone(0),
      n: Number(
        (await db.query<{ n: number }>('select count(*)::int as n from application_people where phone = $1 and not is_proposer', [hostPhone(0)])).rows[0]!.n,
      ),
    };
    const explain = async (what: string, text: string, values: unknown[], who: { phone: string; n: number }) => {
      const { rows } = await db.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${text}`, values);
      report.explain.push({ what, phone: who.phone, records: who.n, plan: rows.map((r) => r['QUERY PLAN']).join('\n') });
    };
    for (const who of [median, heavy]) {
      await explain('baseline statement', RECORDS_SQL, [who.phone], who);
      for (const s of recordsStatements) {
        const values = (Array.isArray(s.values) ? s.values : []).map((v) => (typeof v === 'string' && /^1\d{10}$/.test(v) ? who.phone : v));
        await explain(/count\(/i.test(s.text) ? 'service: count' : 'service: page', s.text, values, who);
      }
    }

    // The measurements.
    console.log(`measuring (${connections} connections, ${duration} s each)`);
    report.runs.push(await measure('baseline'));
    for (const run of ['records', 'auth-records', 'binding'] as const) if (want(run)) report.runs.push(await measure(run));
    if (want('records-cluster') || want('auth-records-cluster') || want('apply-cluster')) {
      // The same list routes, the service deployed as WEB_CONCURRENCY workers on the same simulators.
      const processes = Number(values.processes);
      if (!(processes >= 2 && processes <= 16)) throw new Error('--processes is 2–16');
      const clustered = await startCluster({
        databaseUrl: url,
        sims: simsEndpoints ?? (await service.call<SimEndpoints>('endpoints')),
        sessionSecret,
        processes,
        extra: serviceEnv,
      });
      try {
        for (const [run, like] of [
          ['records-cluster', 'records'],
          ['auth-records-cluster', 'auth-records'],
          ['apply-cluster', 'apply'],
        ] as const) {
          if (!want(run)) continue;
          if (like === 'apply') await waitForNotifications(db, 'true', 120_000);
          routes[run] = { target: clustered, requests: routes[like]!.requests };
          await measure(run, 3, `warm-up ${run}`);
          report.runs.push(await measure(run, duration, `${run} (${processes} workers)`));
        }
      } finally {
        await clustered.stop();
      }
    }
    if (want('apply')) {
      await waitForNotifications(db, 'true', 120_000);
      report.runs.push(await measure('apply'));
    }
    if (want('apply-sms-1s')) {
      await waitForNotifications(db, 'true', 120_000);
      await sims.call('fault', { sims: ['sms'], fault: { delayMs: 1000 } });
      report.runs.push(await measure('apply-sms-1s'));
      await sims.call('fault', { sims: ['sms'], fault: null });
    }
    if (!(await waitForNotifications(db, 'true', 300_000))) console.log('  (notification backlog not drained after 300 s)');
    report.runs.push(await measure('baseline', duration, 'baseline (again, drift check)'));

    // Notification dispatch: N messages queued at once, until every one is recorded.
    if (want('dispatch')) {
      const where = simsChild ? 'separate process' : 'in-process';
      await dispatchRun(`simulators +100 ms (${where})`, 100, service, sims);
      await dispatchRun(`simulators +0 ms (${where})`, 0, service, sims);
    }

    // Profiles (separate, shorter runs: profiling slows the process down).
    if (values['cpu-prof']) {
      console.log('profiling (5 s each, not timed)');
      mkdirSync(`${OUT}prof`, { recursive: true });
      for (const run of ['baseline', 'records', 'auth-records', 'binding', 'apply'] as const) {
        if (run !== 'baseline' && !want(run)) continue;
        await waitForNotifications(db, 'true', 120_000);
        const target = routes[run]!.target;
        const file = `${OUT}prof/${stamp}-${run}.cpuprofile`;
        await target.call('profStart');
        await measure(run, 5, `profiled ${run}`);
        await target.call('profStop', file);
        report.profiles.push({ name: run, summary: summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile) });
      }
      if (want('dispatch')) {
        await waitForNotifications(db, 'true', 120_000);
        const file = `${OUT}prof/${stamp}-dispatch.cpuprofile`;
        await service.call('profStart');
        await sims.call('fault', { sims: ['sms', 'cloud'], fault: { delayMs: 100 } });
        const apps = Array.from({ length: 1000 }, (_, i) => ({
          id: 1 + i,
          phone: String(16_900_000_000 + (Date.now() % 10_000) * 10_000 + i),
          name: `通知${i}`,
        }));
        await sims.call(
          'bind',
          apps.map((a) => [`notify-${a.phone}`, a.phone]),
        );
        const q = await service.call<{ minId: number; maxId: number }>('queueNotifications', apps);
        await waitForNotifications(db, `id between ${q.minId} and ${q.maxId}`, 120_000);
        await sims.call('fault', { sims: ['sms', 'cloud'], fault: null });
        await service.call('profStop', file);
        report.profiles.push({ name: 'dispatch', summary: summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile) });
      }
    }

    // Dispatch again with the simulators placed the other way (in-process ↔ own process), on a
    // service of its own: the first one is stopped, so that only one worker takes the jobs.
    if (want('dispatch')) {
      await Promise.all([service.stop(), simsChild?.stop()]);
      service = null;
      simsChild = null;
      const otherSims = values.sims === 'separate' ? null : await startChild({ role: 'sims', databaseUrl: url });
      const otherService = await startChild({
        role: 'service',
        databaseUrl: url,
        sims: otherSims ? await otherSims.call<SimEndpoints>('endpoints') : undefined,
        env: serviceEnv,
      });
      try {
        await dispatchRun(`simulators +100 ms (${otherSims ? 'separate process' : 'in-process'})`, 100, otherService, otherSims ?? otherService);
      } finally {
        await otherService.stop();
        await otherSims?.stop();
      }
    }
  } finally {
    await Promise.all([baseline?.stop(), service?.stop()]);
    await simsChild?.stop();
    // Rows the apply runs added stay in a kept database; they are few next to the data set.
    await db.end();
    if (created && !values.keep) {
      await dropDatabase(name);
      console.log(`dropped ${name} (use --keep to keep it)`);
    }
  }

  if (!values['no-cold-start'] && want('cold-start')) {
    console.log('embedded cold start');
    report.coldStart = await measureColdStart({ runs: 3, applications: 10_000, loadSeconds: 5 });
    for (const r of report.coldStart.runs) console.log(`  ${r.mode.padEnd(13)} ready in ${r.readyMs} ms, RSS ${r.rssMb} MB (peak ${r.peakMb} MB)`);
  }

  const md = markdown(report);
  writeFileSync(`${OUT}${stamp}.json`, JSON.stringify(report, null, 2));
  writeFileSync(
    `${OUT}${stamp}.md`,
    `${md}\n\n${report.explain.map((e) => `${e.what} for ${e.phone} (${e.records} records):\n\n\`\`\`\n${e.plan}\n\`\`\``).join('\n\n')}\n`,
  );
  console.log(`\n${md}\n\nwritten: bench/out/${stamp}.json, bench/out/${stamp}.md`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
