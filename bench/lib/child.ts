/**
 * A process that bench/run.ts starts and steers over IPC (`fork`): either the baseline, or
 * the real service — createRuntime() with its protocol simulators in the same process, as
 * test/helpers/harness.ts runs them — so that the load generator (in run.ts) never shares an
 * event loop with what it measures.
 *
 *   role "baseline": bench/baseline.ts on the database
 *   role "service":  simulators + createRuntime(loadConfig({...})) on the database
 *
 * Requests from run.ts: { id, cmd, args } → answers { id, ok, result | error }.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance as nodePerformance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startKoalaSimulator } from '../../src/adapters/koala/simulator.js';
import type { Fault } from '../../src/adapters/simulator.js';
import { startAliyunSmsSimulator } from '../../src/adapters/sms/simulator.js';
import { startWechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';
import { loadConfig, randomSecret } from '../../src/config.js';
import { notifications } from '../../src/db/schema.js';
import { planNotifications } from '../../src/modules/notifications/plan.js';
import { createRuntime } from '../../src/runtime.js';
import { startBaseline } from '../baseline.js';
import { benchServiceEnv } from './service-env.js';

export type ChildRole = 'baseline' | 'service' | 'sims';
export type SimName = 'koala' | 'cloud' | 'oauth' | 'sms';

export interface ChildStart {
  role: ChildRole;
  databaseUrl: string;
  /** Extra environment for loadConfig (service only), e.g. NOTIFY_BATCH_SIZE. */
  env?: Record<string, string>;
  /** Service only: simulators already running in another process (role "sims"); else in this one. */
  sims?: SimEndpoints;
}

/** Where the simulators listen and the credentials they want. */
export interface SimEndpoints {
  koala: { url: string; username: string; password: string };
  cloud: { url: string };
  oauth: { url: string; appId: string; appSecret: string };
  sms: { url: string; accessKeyId: string; accessKeySecret: string };
}

interface Message {
  id: number;
  cmd: string;
  args?: unknown;
}

const send = (m: unknown) => process.send?.(m);

/** Counts the SQL statements this process sends (pg's Client.query), while switched on. */
function sqlTracer() {
  let on = false;
  const seen = new Map<string, { count: number; values: unknown }>();
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...a: unknown[]) {
    if (on) {
      const q = a[0];
      const text = typeof q === 'string' ? q : q && typeof q === 'object' && 'text' in q ? String((q as { text: unknown }).text) : '?';
      const values = typeof q === 'string' ? a[1] : q && typeof q === 'object' && 'values' in q ? (q as { values: unknown }).values : a[1];
      const entry = seen.get(text);
      if (entry) entry.count += 1;
      else seen.set(text, { count: 1, values });
    }
    return original.apply(this, a);
  };
  return {
    start() {
      seen.clear();
      on = true;
    },
    stop() {
      on = false;
      return [...seen].map(([text, e]) => ({ text, count: e.count, values: e.values }));
    },
  };
}

/** In-process V8 CPU profiling, switched on and off per measurement. */
function profilerHandlers(): Record<string, (args: unknown) => Promise<unknown>> {
  const session = new Session();
  session.connect();
  return {
    profStart: async () => {
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 500 });
      await session.post('Profiler.start');
      return {};
    },
    /** Event-loop utilisation so far (busy and idle ms), for a share over one run. */
    elu: async () => {
      const e = nodePerformance.eventLoopUtilization();
      return { active: e.active, idle: e.idle };
    },
    profStop: async (file) => {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(String(file), JSON.stringify(profile));
      return {};
    },
  };
}

async function runBaseline(start: ChildStart): Promise<void> {
  const b = await startBaseline({ databaseUrl: start.databaseUrl });
  const handlers: Record<string, (args: unknown) => Promise<unknown>> = {
    ...profilerHandlers(),
    usage: async () => ({ cpu: process.cpuUsage(), rss: process.memoryUsage().rss }),
    stop: async () => {
      await b.close();
      setImmediate(() => process.exit(0));
      return {};
    },
  };
  serve(handlers);
  send({ ready: true, url: b.url });
}

async function startSims() {
  const [koala, cloud, oauth, sms] = await Promise.all([
    startKoalaSimulator(),
    startWechatCloudSimulator(),
    startWechatOAuthSimulator(),
    // No per-number flow control: the benchmark sends many messages to made-up numbers.
    startAliyunSmsSimulator({ verificationTemplates: ['SMS_TPL_VERIFICATION_CODE'], limits: null }),
  ]);
  const endpoints: SimEndpoints = {
    koala: { url: koala.url, username: koala.username, password: koala.password },
    cloud: { url: cloud.url },
    oauth: { url: oauth.url, appId: oauth.appId, appSecret: oauth.appSecret },
    sms: { url: sms.url, accessKeyId: sms.accessKeyId, accessKeySecret: sms.accessKeySecret },
  };
  const all = { koala, cloud, oauth, sms };
  const handlers: Record<string, (args: unknown) => Promise<unknown>> = {
    bind: async (args) => {
      for (const [openid, phone] of args as Array<[string, string]>) cloud.bind(openid, phone);
      return {};
    },
    codes: async (args) => (args as string[]).map((openid) => oauth.issueCode(openid)),
    addEmployees: async (args) => {
      for (const e of args as Array<{ name: string; phone: string; department: string }>) koala.addEmployee(e);
      return {};
    },
    /** null clears; the simulators delay (without a status) and then answer normally. */
    fault: async (args) => {
      const { sims: names, fault } = args as { sims: SimName[]; fault: Fault | null };
      for (const n of names) all[n].server.setFault(fault);
      return {};
    },
    simStats: async () => ({
      sms: sms.server.received.length,
      cloud: cloud.server.received.length,
      koala: koala.server.received.length,
      oauth: oauth.server.received.length,
    }),
  };
  return { endpoints, handlers, close: () => Promise.all([koala.close(), cloud.close(), oauth.close(), sms.close()]).then(() => {}) };
}

async function runSims(): Promise<void> {
  const sims = await startSims();
  serve({
    ...profilerHandlers(),
    ...sims.handlers,
    endpoints: async () => sims.endpoints,
    stop: async () => {
      await sims.close();
      setImmediate(() => process.exit(0));
      return {};
    },
  });
  send({ ready: true, url: sims.endpoints.cloud.url });
}

async function runService(start: ChildStart): Promise<void> {
  const tracer = sqlTracer();
  const local = start.sims ? null : await startSims();
  const ep = start.sims ?? local!.endpoints;
  const storageDir = mkdtempSync(join(tmpdir(), 'laifang-bench-files-'));
  const env = benchServiceEnv({ databaseUrl: start.databaseUrl, sims: ep, storageDir, sessionSecret: randomSecret(), extra: start.env });
  const config = loadConfig(env);
  const runtime = await createRuntime(config);
  const address = await runtime.app.listen({ host: '127.0.0.1', port: 0 });

  const handlers: Record<string, (args: unknown) => Promise<unknown>> = {
    ...profilerHandlers(),
    ...(local?.handlers ?? {}),
    traceStart: async () => {
      tracer.start();
      return {};
    },
    traceStop: async () => tracer.stop(),
    /** Where the simulators this service uses listen (for a second service on the same ones). */
    endpoints: async () => ep,
    /**
     * Queues one invitation's notifications (SMS + WeChat to the visitor) per application, as
     * POST /v1/subject does: planNotifications → outbox rows, in one transaction per 500
     * applications; the worker finds them at its next poll. (run.ts binds the visitors first, so WeChat sends.)
     */
    queueNotifications: async (args) => {
      const apps = args as Array<{ id: number; phone: string; name: string }>;
      const at = new Date();
      const ids: number[] = [];
      const startTime = Math.floor(Date.now() / 1000) + 3600;
      for (let i = 0; i < apps.length; i += 500) {
        const chunk = apps.slice(i, i + 500);
        const rows = chunk.flatMap((a) =>
          planNotifications(
            'invitation_created',
            {
              kind: 'invitation',
              name: a.name,
              phone: a.phone,
              company: '',
              proposer: '13800000001',
              interviewee: '张伟',
              intervieweePhone: '13800000001',
              startTime,
              endTime: startTime + 3600,
              retinues: [],
            },
            config.templates,
            `${config.publicUrl}/h5/#/records`,
          ).map((n) => ({ applicationId: a.id, event: n.event, channel: n.channel, phone: n.phone, template: n.template, payload: n.payload, createdAt: at })),
        );
        const created = await runtime.database.db.insert(notifications).values(rows).returning({ id: notifications.id });
        ids.push(...created.map((r) => r.id));
      }
      return { ids: ids.length, minId: Math.min(...ids), maxId: Math.max(...ids) };
    },
    stop: async () => {
      await runtime.close();
      await local?.close();
      rmSync(storageDir, { recursive: true, force: true });
      setImmediate(() => process.exit(0));
      return {};
    },
  };
  serve(handlers);
  send({ ready: true, url: address.replace('localhost', '127.0.0.1') });
}

function serve(handlers: Record<string, (args: unknown) => Promise<unknown>>): void {
  process.on('message', (raw: unknown) => {
    const m = raw as Message;
    if (!m || typeof m.id !== 'number') return;
    const h = handlers[m.cmd];
    if (!h) {
      send({ id: m.id, ok: false, error: `unknown command ${m.cmd}` });
      return;
    }
    h(m.args).then(
      (result) => send({ id: m.id, ok: true, result }),
      (err: unknown) => send({ id: m.id, ok: false, error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) }),
    );
  });
  // The parent went away: do not linger.
  process.on('disconnect', () => process.exit(0));
}

const start = JSON.parse(process.argv[2] ?? '{}') as ChildStart;
(start.role === 'baseline' ? runBaseline(start) : start.role === 'sims' ? runSims() : runService(start)).catch((err: unknown) => {
  send({ ready: false, error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
  process.exit(1);
});
