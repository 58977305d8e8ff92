import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { and, desc, eq, gt, gte, inArray, isNull, sql } from 'drizzle-orm';
import type { SmsPort } from '../../adapters/sms/port.js';
import type { Db } from '../../db/client.js';
import { smsCodes } from '../../db/schema.js';
import { AppError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';

export const CODE_TTL_MS = 5 * 60_000;
export const MAX_WRONG_TRIES = 5;
/** Per phone (§3.0): 1 a minute, 5 an hour, 10 a day. */
const LIMITS = [
  { windowMs: 60_000, max: 1 },
  { windowMs: 3_600_000, max: 5 },
  { windowMs: 86_400_000, max: 10 },
];

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

/**
 * Verification codes live in the database (every replica sees the same codes and limits);
 * only a keyed hash of a code is stored.
 */
/** `template`: the Aliyun TemplateCode, or a function giving the one in force (admin overrides). */
export function createSmsCodes(deps: {
  db: Db;
  sms: SmsPort;
  template: string | (() => Promise<string>);
  secret: string;
  logger: Logger;
  now: () => number;
}): SmsCodes {
  const { db } = deps;
  const key = createHmac('sha256', deps.secret).update('laifang/sms-code/v1').digest();
  const hash = (phone: string, code: string) => createHmac('sha256', key).update(`${phone}:${code}`).digest('hex');

  async function reserve(phone: string, code: string): Promise<number> {
    return db.transaction(async (tx) => {
      // Serialises concurrent requests for one phone across replicas, so limits hold exactly.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`sms-code:${phone}`}))`);
      const now = deps.now();
      const dayAgo = new Date(now - 86_400_000);
      const recent = await tx
        .select({ createdAt: smsCodes.createdAt })
        .from(smsCodes)
        .where(and(eq(smsCodes.phone, phone), gte(smsCodes.createdAt, dayAgo)))
        .orderBy(desc(smsCodes.createdAt));
      for (const limit of LIMITS) {
        const inWindow = recent.filter((r) => r.createdAt.getTime() > now - limit.windowMs);
        if (inWindow.length >= limit.max) {
          const oldest = inWindow[inWindow.length - 1]!.createdAt.getTime();
          throw new AppError('RATE_LIMITED', '验证码发送过于频繁，请稍后再试', { retryAfter: (oldest + limit.windowMs - now) / 1000 });
        }
      }
      const [row] = await tx
        .insert(smsCodes)
        .values({ phone, codeHash: hash(phone, code), createdAt: new Date(now), expiresAt: new Date(now + CODE_TTL_MS) })
        .returning({ id: smsCodes.id });
      return row!.id;
    });
  }

  return {
    async send(phone) {
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      const id = await reserve(phone, code);
      try {
        const templateCode = typeof deps.template === 'string' ? deps.template : await deps.template();
        await deps.sms.send({ phone, templateCode, params: { code }, outId: `code-${id}` });
      } catch (err) {
        // Not sent: it must neither be usable nor count against the phone's limits.
        await db.delete(smsCodes).where(eq(smsCodes.id, id));
        if (err instanceof UpstreamError && err.code === 'RATE_LIMITED') {
          throw new AppError('RATE_LIMITED', '短信发送过于频繁，请稍后再试', { retryAfter: err.retryAfter ?? 60, detail: err.detail });
        }
        throw err;
      }
    },

    async claim(phone, code) {
      const now = new Date(deps.now());
      const active = await db
        .select({ id: smsCodes.id, codeHash: smsCodes.codeHash })
        .from(smsCodes)
        .where(and(eq(smsCodes.phone, phone), isNull(smsCodes.spentAt), gt(smsCodes.expiresAt, now)));
      if (code !== undefined && /^\d{6}$/.test(code)) {
        const given = Buffer.from(hash(phone, code));
        const match = active.find((r) => timingSafeEqual(Buffer.from(r.codeHash), given));
        if (match) {
          // Only one request gets the row; a concurrent one with the same code finds it spent.
          const [taken] = await db
            .update(smsCodes)
            .set({ spentAt: now })
            .where(and(eq(smsCodes.id, match.id), isNull(smsCodes.spentAt)))
            .returning({ id: smsCodes.id });
          if (taken) return taken.id;
          throw new AppError('SMS_CODE_INVALID', '短信验证码已被使用（sms_code）');
        }
      }
      if (code !== undefined && active.length > 0) {
        // A wrong try counts against every live code of the phone; the 5th spends them.
        const ids = active.map((r) => r.id);
        await db
          .update(smsCodes)
          // The typed cast matters: an untyped parameter in CASE is text, which timestamptz refuses.
          .set({
            wrongTries: sql`${smsCodes.wrongTries} + 1`,
            spentAt: sql`case when ${smsCodes.wrongTries} + 1 >= ${MAX_WRONG_TRIES} then ${now.toISOString()}::timestamptz else null end`,
          })
          // Only codes still live: one taken meanwhile by a right try must stay spent.
          .where(and(inArray(smsCodes.id, ids), isNull(smsCodes.spentAt)));
      }
      throw new AppError('SMS_CODE_INVALID', code === undefined ? '请填写短信验证码（sms_code）' : '短信验证码错误或已过期（sms_code）');
    },

    async release(codeId) {
      try {
        await db.update(smsCodes).set({ spentAt: null }).where(eq(smsCodes.id, codeId));
      } catch (err) {
        // The code stays spent: the user asks for a new one. The refusal itself is what the caller reports.
        deps.logger.warn({ err, codeId }, 'a claimed SMS code could not be given back');
      }
    },
  };
}
