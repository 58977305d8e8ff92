import type { SmsPort } from '../../adapters/sms/port.js';
import type { WechatCloudPort } from '../../adapters/wechat-cloud/port.js';
import type { Database } from '../../db/client.js';
import type { Logger } from '../../log.js';
import { backoffSeconds } from '../../retry.js';
import { retryLater, type ClaimedRow, type Outcome } from './outbox-repo.js';
import type { SmsPayload, WechatPayload } from './plan.js';
import { failureVerdict, lostSenderOutcome } from './verdict.js';

/** The provider reference of an SMS found already sent by QuerySendDetails (its BizId is not in the answer). */
export const ALREADY_SENT = 'found-by-query';

export interface SendPorts {
  sms: SmsPort;
  wechat: WechatCloudPort;
  /**
   * The short code of a pass (the SMS template's link is `https://<host>/p/${code}`; the code
   * opens the pass), made when its message is sent; null when the pass is gone or revoked
   * (checked out, erased).
   */
  passCode(passId: number): Promise<string | null>;
  /** The page of a visit (`/h5/#/visit/{id}`): where every WeChat message links. */
  visitUrl(applicationId: number): string;
}

/** The outcome of a pass message whose pass no longer admits: nothing worth sending. */
const PASS_GONE = 'the pass was revoked or erased before the message was sent';

export interface AttemptDeps {
  ports: SendPorts;
  database: Database;
  logger: Logger;
  /** Attempts after the first before a transiently failing notification is given up. */
  retryLimit: number;
  /** First retry delay; it doubles per attempt up to maxRetryDelaySeconds. */
  retryDelaySeconds: number;
  maxRetryDelaySeconds: number;
  /** Told of every attempt's end (metrics): its outcome, or `retry` when one was scheduled. */
  observe?: (channel: string, outcome: Outcome['status'] | 'retry') => void;
}

/**
 * One provider call for a claimed row: its outcome when the provider answered with one (sent,
 * or a WeChat phone without a binding: skipped); a failure throws.
 */
export async function deliver(row: ClaimedRow, ports: SendPorts, now: () => number = Date.now): Promise<Outcome> {
  // A pass message stores the pass id, never its code (signin-plan.ts): the code is made now.
  const passId = (row.payload as { passId?: unknown }).passId;
  const code = typeof passId === 'number' ? await ports.passCode(passId) : undefined;
  if (code === null) return { status: 'skipped', reason: PASS_GONE };
  if (row.channel === 'sms') {
    const p = row.payload as SmsPayload;
    const params = code === undefined ? p.params : { ...p.params, code };
    const outId = String(row.id);
    // Not the row's first attempt: an earlier one may have reached Aliyun and lost its answer (a
    // timeout, a killed process). Aliyun files every message with its OutId (the row's id), so
    // it is asked before the message is sent again; a failing question throws like a send.
    if (row.attempts > 1 && ports.sms.wasSent && (await ports.sms.wasSent({ phone: row.phone, outId, sentAt: now() }))) {
      return { status: 'sent', ref: ALREADY_SENT };
    }
    const { bizId } = await ports.sms.send({ phone: row.phone, templateCode: p.templateCode, params, outId });
    return { status: 'sent', ref: bizId };
  }
  const p = row.payload as WechatPayload;
  const result = await ports.wechat.sendMessage({ phone: row.phone, tplMessageId: p.tplMessageId, url: ports.visitUrl(row.applicationId), data: p.data });
  return result === 'sent' ? { status: 'sent', ref: '' } : { status: 'skipped', reason: 'phone has no WeChat binding' };
}

/**
 * Sends one claimed row: its outcome to record, or null when a retry was scheduled instead (the
 * row stays pending, due again after a capped exponential back-off, so a message follows an
 * outage's end within maxRetryDelaySeconds).
 */
export async function attempt(row: ClaimedRow, deps: AttemptDeps): Promise<Outcome | null> {
  const outcome = await attemptOnce(row, deps);
  deps.observe?.(row.channel, outcome ? outcome.status : 'retry');
  return outcome;
}

async function attemptOnce(row: ClaimedRow, deps: AttemptDeps): Promise<Outcome | null> {
  const { logger } = deps;
  const lost = lostSenderOutcome(row.attempts, deps.retryLimit);
  if (lost) {
    logger.error({ notificationId: row.id, attempts: row.attempts }, 'notification failed for good: its sender was lost on every attempt');
    return lost;
  }
  try {
    return await deliver(row, deps.ports);
  } catch (err) {
    const verdict = failureVerdict(err, row.attempts, deps.retryLimit);
    if (verdict.retry) {
      const delaySeconds = backoffSeconds(row.attempts, deps.retryDelaySeconds, deps.maxRetryDelaySeconds);
      await retryLater(deps.database, row.id, delaySeconds, verdict.reason);
      logger.warn(
        { notificationId: row.id, attempt: row.attempts, retryInSeconds: Math.round(delaySeconds), reason: verdict.reason },
        'notification failed, will retry',
      );
      return null;
    }
    if (verdict.outcome.status === 'failed') {
      logger.error({ notificationId: row.id, attempts: row.attempts, reason: verdict.outcome.reason }, 'notification failed for good');
    }
    return verdict.outcome;
  }
}

/**
 * One claimed row to its end: attempted, and its outcome recorded. It never throws. When the
 * database fails in between (recording, or scheduling the retry), the row keeps its lease and is
 * claimed again when the lease ends: a message may then be sent twice, never lost.
 */
export async function handleRow(
  row: ClaimedRow,
  deps: AttemptDeps & { leaseSeconds: number; record(id: number, outcome: Outcome): Promise<void> },
): Promise<void> {
  try {
    const outcome = await attempt(row, deps);
    if (outcome) await deps.record(row.id, outcome);
  } catch (err) {
    deps.logger.warn(
      { err, notificationId: row.id, retryInSeconds: deps.leaseSeconds },
      'notification outcome not recorded; it is sent again when its lease ends',
    );
  }
}
