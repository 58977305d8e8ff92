import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { SmsPort } from '../../adapters/sms/port.js';
import type { Db } from '../../db/client.js';
import { AppError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { SEND_LIMITS_SPAN_MS, sendRetryAfter } from './limits.js';
import { smsCodeRepo } from './repo.js';

export const CODE_TTL_MS = 5 * 60_000;
export const MAX_WRONG_TRIES = 5;

export interface SmsCodes {
  /** Sends a new code (the SMS goes out before this returns). */
  send(phone: string): Promise<void>;
  /**
   * Takes the valid code `code` for `phone` (spends it at once, so concurrent requests cannot
   * both use it) and returns its id; counts a wrong try and throws SMS_CODE_INVALID otherwise.
   */
  claim(phone: string, code: string | undefined): Promise<number>;
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
}

/**
 * Verification codes live in the database (every replica sees the same codes and limits); only
 * a keyed hash of a code is stored.
 */
export function createSmsCodes(deps: SmsCodesDeps): SmsCodes {
  const key = createHmac('sha256', deps.secret).update('laifang/sms-code/v1').digest();
  const hash = (phone: string, code: string) => createHmac('sha256', key).update(`${phone}:${code}`).digest('hex');
  return {
    send: (phone) => send(deps, hash, phone),
    claim: (phone, code) => claim(deps, hash, phone, code),
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

type Hash = (phone: string, code: string) => string;

/** Stores a new code for `phone` within its limits (counted under the phone's lock); returns its id. */
async function reserve(deps: SmsCodesDeps, phone: string, codeHash: string): Promise<number> {
  return deps.db.transaction(async (tx) => {
    await smsCodeRepo.lockPhone(tx, phone);
    const now = deps.now();
    const retryAfter = sendRetryAfter(await smsCodeRepo.sentSince(tx, phone, new Date(now - SEND_LIMITS_SPAN_MS)), now);
    if (retryAfter !== null) throw new AppError('RATE_LIMITED', '验证码发送过于频繁，请稍后再试', { retryAfter });
    return smsCodeRepo.insert(tx, { phone, codeHash, createdAt: new Date(now), expiresAt: new Date(now + CODE_TTL_MS) });
  });
}

async function send(deps: SmsCodesDeps, hash: Hash, phone: string): Promise<void> {
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const id = await reserve(deps, phone, hash(phone, code));
  try {
    const templateCode = typeof deps.template === 'string' ? deps.template : await deps.template();
    await deps.sms.send({ phone, templateCode, params: { code }, outId: `code-${id}` });
  } catch (err) {
    // Not sent: it must neither be usable nor count against the phone's limits.
    await smsCodeRepo.remove(deps.db, id);
    if (err instanceof UpstreamError && err.code === 'RATE_LIMITED') {
      throw new AppError('RATE_LIMITED', '短信发送过于频繁，请稍后再试', { retryAfter: err.retryAfter ?? 60, detail: err.detail });
    }
    throw err;
  }
}

async function claim(deps: SmsCodesDeps, hash: Hash, phone: string, code: string | undefined): Promise<number> {
  const now = new Date(deps.now());
  const active = await smsCodeRepo.active(deps.db, phone, now);
  if (code !== undefined && /^\d{6}$/.test(code)) {
    const given = Buffer.from(hash(phone, code));
    const match = active.find((r) => timingSafeEqual(Buffer.from(r.codeHash), given));
    if (match) {
      // Only one request gets the row; a concurrent one with the same code finds it spent.
      if (await smsCodeRepo.spend(deps.db, match.id, now)) return match.id;
      throw new AppError('SMS_CODE_INVALID', '短信验证码已被使用（sms_code）');
    }
  }
  // A wrong try counts against every live code of the phone; the 5th spends them.
  if (code !== undefined && active.length > 0)
    await smsCodeRepo.countWrongTry(
      deps.db,
      active.map((r) => r.id),
      now,
      MAX_WRONG_TRIES,
    );
  throw new AppError('SMS_CODE_INVALID', code === undefined ? '请填写短信验证码（sms_code）' : '短信验证码错误或已过期（sms_code）');
}
