import { createHmac, randomInt } from 'node:crypto';
import type { SmsPort } from '../../adapters/sms/port.js';
import type { Db } from '../../db/client.js';
import { AppError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { claimCode } from './claim.js';
import { SEND_LIMITS_SPAN_MS, sendRetryAfter } from './limits.js';
import { smsCodeRepo, type Counter } from './repo.js';
import { admitRequester, recordOwner, requesterBook, type Requester, type RequesterBook, type RequesterLimits } from './requesters.js';

export { MAX_WRONG_TRIES } from './claim.js';
export type { Requester } from './requesters.js';

export const CODE_TTL_MS = 5 * 60_000;

export interface SmsCodes {
  /** Sends a new code to `phone` for `requester` (the SMS goes out before this returns). */
  send(phone: string, requester: Requester): Promise<void>;
  /**
   * Takes the valid code `code` for `phone`, tried by `weixinUserId` (spends it at once, so
   * concurrent requests cannot both use it) and returns its id; throws SMS_CODE_INVALID otherwise.
   */
  claim(phone: string, code: string | undefined, weixinUserId: string): Promise<number>;
  /** Gives a claimed code back, when the binding it guarded was refused for another reason (§3.0). */
  release(codeId: number): Promise<void>;
}

export interface SmsCodesDeps {
  db: Db;
  sms: SmsPort;
  /** The Aliyun TemplateCode, or a function giving the one in force (admin overrides). */
  template: string | (() => Promise<string>);
  secret: string;
  logger: Logger;
  now: () => number;
  /** Per requester; none: 3 phones a WeChat user an hour, no limit per address. */
  limits?: RequesterLimits;
}

interface Context extends SmsCodesDeps {
  book: RequesterBook;
  hash: (phone: string, code: string) => string;
  limits: RequesterLimits;
}

/**
 * Verification codes live in the database (every replica sees the same codes and limits); only
 * a keyed hash of a code is stored. Who asked for each code is kept beside it (requesters.ts):
 * the phone's limits (§3.0) hold for everyone together, and each requester has a smaller share.
 */
export function createSmsCodes(deps: SmsCodesDeps): SmsCodes {
  const key = createHmac('sha256', deps.secret).update('laifang/sms-code/v1').digest();
  const ctx: Context = {
    ...deps,
    book: requesterBook(deps.secret),
    hash: (phone, code) => createHmac('sha256', key).update(`${phone}:${code}`).digest('hex'),
    limits: deps.limits ?? { phonesPerCallerPerHour: 3, phonesPerAddressPerHour: 0 },
  };
  return {
    send: (phone, requester) => send(ctx, phone, requester),
    claim: (phone, code, weixinUserId) => claimCode(ctx, phone, code, weixinUserId),
    async release(codeId) {
      try {
        await smsCodeRepo.unspend(deps.db, codeId);
      } catch (err) {
        // The code stays spent: the user asks for a new one. The refusal itself is what the caller reports.
        deps.logger.warn({ err, codeId }, 'a claimed SMS code could not be given back');
      }
    },
  };
}

/**
 * Stores a new code for `phone` within the phone's limits and the requester's (counted under the
 * phone's lock); answers its id and the counts to take back if it cannot be sent.
 */
async function reserve(ctx: Context, phone: string, requester: Requester, codeHash: string): Promise<{ id: number; counted: Counter[] }> {
  return ctx.db.transaction(async (tx) => {
    await smsCodeRepo.lockPhone(tx, phone);
    const now = ctx.now();
    const sent = await smsCodeRepo.sentSince(tx, phone, new Date(now - SEND_LIMITS_SPAN_MS));
    const retryAfter = sendRetryAfter(
      sent.map((s) => s.at),
      now,
    );
    if (retryAfter !== null) throw new AppError('RATE_LIMITED', '验证码发送过于频繁，请稍后再试', { retryAfter });
    const counted = await admitRequester(tx, { book: ctx.book, limits: ctx.limits, requester, phone, sent, now });
    const id = await smsCodeRepo.insert(tx, { phone, codeHash, createdAt: new Date(now), expiresAt: new Date(now + CODE_TTL_MS) });
    counted.push(await recordOwner(tx, ctx.book, id, requester.weixinUserId, now));
    return { id, counted };
  });
}

async function send(ctx: Context, phone: string, requester: Requester): Promise<void> {
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const { id, counted } = await reserve(ctx, phone, requester, ctx.hash(phone, code));
  try {
    const templateCode = typeof ctx.template === 'string' ? ctx.template : await ctx.template();
    await ctx.sms.send({ phone, templateCode, params: { code }, outId: `code-${id}`, kind: 'code' });
  } catch (err) {
    // Not sent: it must neither be usable nor count against the phone's or the requester's limits.
    await smsCodeRepo.remove(ctx.db, id);
    await smsCodeRepo.takeBack(ctx.db, counted).catch((e: unknown) => ctx.logger.warn({ err: e }, 'SMS code counts not given back'));
    if (err instanceof UpstreamError && err.code === 'RATE_LIMITED') {
      throw new AppError('RATE_LIMITED', '短信发送过于频繁，请稍后再试', { retryAfter: err.retryAfter ?? 60, detail: err.detail });
    }
    throw err;
  }
}
