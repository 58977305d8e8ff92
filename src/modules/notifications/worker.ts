import type { SmsPort } from '../../adapters/sms/port.js';
import type { WechatCloudPort } from '../../adapters/wechat-cloud/port.js';
import type { Database, Statement } from '../../db/client.js';
import { UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SmsPayload, WechatPayload } from './plan.js';
import { SmsCapExceeded } from './sms-caps.js';
import { backoffSeconds, failureReason } from '../../retry.js';

export interface NotifyWorkerDeps {
  database: Database;
  sms: SmsPort;
  wechat: WechatCloudPort;
  logger: Logger;
  now: () => number;
  /** Rows claimed per statement. */
  batchSize: number;
  /** Messages in flight at most is concurrency × batchSize (default concurrency 4). */
  concurrency?: number;
  /** How often the outbox is looked at when nothing told this process of new rows. */
  pollingIntervalSeconds: number;
  /** How long a claimed row stays with its sender before it counts as lost (process killed) and is sent again. */
  leaseSeconds: number;
  /** Attempts after the first before a transiently failing notification is given up. */
  retryLimit: number;
  /** First retry delay; it doubles per attempt up to maxRetryDelaySeconds. */
  retryDelaySeconds: number;
  maxRetryDelaySeconds: number;
  /**
   * Sending gives way to answering: while `busy()` (this process answers many requests a second),
   * at most `ratePerSecond` messages are claimed a second; the rest wait in the outbox, due, and
   * go at full speed once the requests subside.
   */
  giveWay?: { busy: () => boolean; ratePerSecond: number };
}

export interface NotifyWorker {
  stop(): Promise<void>;
}

/** The columns a send needs, as the claim returns them. */
interface ClaimedRow {
  id: number;
  channel: string;
  phone: string;
  payload: unknown;
  attempts: number;
}

/** Claims in flight at most, in batches, when the caller does not say (see startNotifyWorker). */
const DEFAULT_CONCURRENCY = 4;
/** How often (at most) the loop claims while it gives way to requests. */
const GIVE_WAY_TICK_MS = 100;

/**
 * Takes up to $1 due rows (oldest first) and leases them for $2 seconds: each counts an attempt
 * and is not due again until the lease ends, so a row whose sender died is sent again then.
 * SKIP LOCKED hands each row to one claimer, on every replica.
 */
const CLAIM: Statement = {
  name: 'laifang_outbox_claim',
  text: `with due as (
    select id from notifications where status = 'pending' and due_at <= now()
    order by due_at, id limit $1 for update skip locked)
  update notifications n set attempts = n.attempts + 1, due_at = now() + make_interval(secs => $2)
  from due where n.id = due.id
  returning n.id, n.channel, n.phone, n.payload, n.attempts`,
};

/** The next attempt of a transiently failed row, after $2 seconds. */
const RETRY_LATER: Statement = {
  name: 'laifang_outbox_retry',
  text: `update notifications set due_at = now() + make_interval(secs => $2), last_error = $3
  where id = $1 and status = 'pending'`,
};

const RECORD: Statement = {
  name: 'laifang_notify_record',
  text: `update notifications n set status = v.status, provider_ref = v.ref, last_error = v.err, finished_at = $2
  from json_to_recordset($1::json) as v(id bigint, status text, ref text, err text)
  where n.id = v.id and n.status = 'pending'`,
};

type Outcome = { status: 'sent'; ref: string } | { status: 'skipped'; reason: string } | { status: 'failed'; reason: string };

/**
 * Sends what the notifications table holds as pending (the outbox: each row is written by the
 * transaction of the record that causes it, so it exists iff that record committed). The row
 * is the record of what was sent: its status changes once, from pending. A transient failure
 * makes it due again after a capped exponential back-off; permanent ones, and the last
 * transient one, are recorded with their reason.
 *
 * One claim loop keeps up to concurrency × batchSize messages in flight: it claims a batch
 * (one statement), starts every send, and claims again as soon as there is room, so one slow
 * provider call holds only its own slot. It looks at the outbox every polling interval, and
 * again at once while batches come back full (a backlog drains at full speed). While the process
 * answers many requests a second (NOTIFY_YIELD_AT) it gives way: a few rows every 100 ms,
 * NOTIFY_YIELD_RATE a second, so a burst of applications is answered at the speed of the
 * requests alone and its messages follow from the outbox once the burst subsides (nothing is
 * lost or reordered). It is not woken
 * when a request commits new rows: a process killed right after answering then has nothing in
 * flight (docs/adr/0003).
 */
export async function startNotifyWorker(deps: NotifyWorkerDeps): Promise<NotifyWorker> {
  const { logger } = deps;
  const capacity = Math.max(1, deps.concurrency ?? DEFAULT_CONCURRENCY) * deps.batchSize;
  const pollMs = deps.pollingIntervalSeconds * 1000;

  async function claim(limit: number): Promise<ClaimedRow[]> {
    const rows = await deps.database.query<ClaimedRow & { id: string | number }>(CLAIM, [limit, deps.leaseSeconds]);
    return rows.map((r) => ({ ...r, id: Number(r.id) }));
  }

  /**
   * Group commit of outcomes: each outcome is written as soon as its send returns, in the next
   * statement together with whatever else finished meanwhile. A crash can only resend the
   * messages whose provider had answered and whose statement had not committed (one round trip).
   */
  const waiting: Array<{ item: { id: number; outcome: Outcome }; done: (err?: unknown) => void }> = [];
  let flushing = false;
  function record(id: number, outcome: Outcome): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      waiting.push({ item: { id, outcome }, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!flushing) void flush();
    });
  }
  async function flush(): Promise<void> {
    flushing = true;
    while (waiting.length > 0) {
      const group = waiting.splice(0);
      const rows = group.map(({ item: { id, outcome: o } }) => ({
        id,
        status: o.status,
        ref: o.status === 'sent' ? o.ref || null : null,
        err: o.status === 'sent' ? null : o.reason,
      }));
      try {
        await deps.database.query(RECORD, [JSON.stringify(rows), new Date(deps.now())]);
        for (const g of group) g.done();
      } catch (err) {
        for (const g of group) g.done(err ?? new Error('recording failed'));
      }
    }
    flushing = false;
  }

  async function deliver(row: ClaimedRow): Promise<Outcome> {
    if (row.channel === 'sms') {
      const p = row.payload as SmsPayload;
      try {
        const { bizId } = await deps.sms.send({ phone: row.phone, templateCode: p.templateCode, params: p.params, outId: String(row.id) });
        return { status: 'sent', ref: bizId };
      } catch (err) {
        // The per-phone / global SMS cap (modules/sms-guard): recorded, not retried.
        if (err instanceof SmsCapExceeded) return { status: 'skipped', reason: `sms cap reached (${err.scope})` };
        throw err;
      }
    }
    const p = row.payload as WechatPayload;
    const result = await deps.wechat.sendMessage({ phone: row.phone, tplMessageId: p.tplMessageId, url: p.url, data: p.data });
    return result === 'sent' ? { status: 'sent', ref: '' } : { status: 'skipped', reason: 'phone has no WeChat binding' };
  }

  /** Sends one claimed notification: its outcome to record, or null when a retry was scheduled instead. */
  async function attempt(row: ClaimedRow): Promise<Outcome | null> {
    // Claimed again after its last allowed attempt: its sender died each time (the lease ran out).
    if (row.attempts > deps.retryLimit + 1) {
      logger.error({ notificationId: row.id, attempts: row.attempts }, 'notification failed for good: its sender was lost on every attempt');
      return { status: 'failed', reason: `gave up after ${row.attempts - 1} attempts: the sending process was lost` };
    }
    try {
      return await deliver(row);
    } catch (err) {
      // Anything that is not a provider's verdict (a database hiccup) is worth another try.
      const transient = err instanceof UpstreamError ? err.transient : true;
      const reason = failureReason(err);
      if (transient && row.attempts <= deps.retryLimit) {
        // Capped, so a message follows an outage's end within NOTIFY_RETRY_MAX_DELAY_S.
        const delaySeconds = backoffSeconds(row.attempts, deps.retryDelaySeconds, deps.maxRetryDelaySeconds);
        await deps.database.query(RETRY_LATER, [row.id, delaySeconds, reason]);
        logger.warn({ notificationId: row.id, attempt: row.attempts, retryInSeconds: Math.round(delaySeconds), reason }, 'notification failed, will retry');
        return null;
      }
      logger.error({ notificationId: row.id, attempts: row.attempts, reason }, 'notification failed for good');
      return { status: 'failed', reason: transient ? `gave up after ${row.attempts} attempts: ${reason}` : reason };
    }
  }

  /**
   * One claimed row to its end. When the database fails in between (recording, or scheduling the
   * retry), the row keeps its lease and is claimed again when it ends: a message may then be
   * sent twice, never lost.
   */
  async function handle(row: ClaimedRow): Promise<void> {
    try {
      const outcome = await attempt(row);
      if (outcome) await record(row.id, outcome);
    } catch (err) {
      logger.warn(
        { err, notificationId: row.id, retryInSeconds: deps.leaseSeconds },
        'notification outcome not recorded; it is sent again when its lease ends',
      );
    }
  }

  let stopped = false;
  let inFlight = 0;
  /** Wakes the claim loop: a slot freed while full, or stop. */
  let wake: (() => void) | null = null;
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = null;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        wake = null;
        resolve();
      };
    });

  /** While giving way: a claim of `trickle` rows every `tickMs` (100 ms, or longer for a rate under 10 a second). */
  const tickMs = deps.giveWay ? Math.max(GIVE_WAY_TICK_MS, 1000 / deps.giveWay.ratePerSecond) : GIVE_WAY_TICK_MS;
  const trickle = deps.giveWay ? Math.max(1, Math.round((deps.giveWay.ratePerSecond * tickMs) / 1000)) : 0;

  async function loop(): Promise<void> {
    while (!stopped) {
      const givingWay = deps.giveWay?.busy() ?? false;
      const room = capacity - inFlight;
      if (room <= 0) {
        await nap(givingWay ? tickMs : pollMs);
        continue;
      }
      const limit = Math.min(deps.batchSize, room, givingWay ? trickle : Infinity);
      let rows: ClaimedRow[];
      try {
        rows = await claim(limit);
      } catch (err) {
        if (!stopped) logger.warn({ err }, 'could not claim notifications; trying again at the next poll');
        await nap(pollMs);
        continue;
      }
      for (const row of rows) {
        inFlight++;
        void handle(row).finally(() => {
          inFlight--;
          // Room again after being full: claim at once (there may be a backlog).
          if (inFlight === capacity - 1 || (stopped && inFlight === 0)) wake?.();
        });
      }
      // A short batch means the outbox is empty for now: wait for the next poll. Giving way:
      // the next few rows in a while.
      if (stopped) continue;
      if (rows.length < limit) await nap(pollMs);
      else if (givingWay) await nap(tickMs);
    }
  }

  const running = loop();

  return {
    async stop() {
      stopped = true;
      wake?.();
      await running;
      // Sends under way finish (each provider call has its timeout) and their outcomes are recorded.
      while (inFlight > 0) await nap(50);
      while (flushing) await new Promise((r) => setTimeout(r, 5));
    },
  };
}
