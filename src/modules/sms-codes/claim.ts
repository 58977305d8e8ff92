import { timingSafeEqual } from 'node:crypto';
import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { smsCodeRepo, type Counter } from './repo.js';
import type { RequesterBook } from './requesters.js';

/** A code's tries: its 5th wrong one spends it (§3.0). */
export const MAX_WRONG_TRIES = 5;

export interface ClaimDeps {
  db: Db;
  book: RequesterBook;
  /** The keyed hash a code is stored as. */
  hash: (phone: string, code: string) => string;
  now: () => number;
}

/**
 * Which live codes of the phone this guess may be compared with. Every comparison costs the
 * code one of its MAX_WRONG_TRIES, whoever makes it, so a code is never compared more than that
 * many times, however many sessions guess (a brute force across sessions gains nothing). But a
 * user who did not ask for the code gets ONE comparison with it: one stranger (one WeChat user)
 * takes at most one of the tries of somebody else's code, and the user who asked for it keeps
 * the others. Burning a code takes five WeChat users guessing together; the code's owner then
 * asks for a new one, and each of them may ask for few codes for that phone themselves.
 */
async function comparable(
  deps: ClaimDeps,
  active: Array<{ id: number; expiresAt: Date }>,
  weixinUserId: string,
): Promise<{ ids: number[]; guessed: Counter[] }> {
  const user = deps.book.user(weixinUserId);
  const owned = await smsCodeRepo.present(
    deps.db,
    active.map((c) => deps.book.owner(c.id, user)),
  );
  const foreign = active.filter((c) => !owned.has(deps.book.owner(c.id, user)));
  const guessed = foreign.map((c) => ({ bucket: deps.book.guess(c.id, user), windowStart: c.expiresAt.getTime() }));
  const guesses = await smsCodeRepo.bump(deps.db, guessed);
  const ids = active.filter((c) => owned.has(deps.book.owner(c.id, user)) || guesses.get(deps.book.guess(c.id, user)) === 1).map((c) => c.id);
  return { ids, guessed };
}

/**
 * Takes the valid code `code` for `phone` (spends it at once, so concurrent requests cannot
 * both use it) and answers its id; otherwise throws SMS_CODE_INVALID, the guess having cost a
 * try of each code it was compared with.
 */
export async function claimCode(deps: ClaimDeps, phone: string, code: string | undefined, weixinUserId: string): Promise<number> {
  if (code === undefined) throw new AppError('SMS_CODE_INVALID', '请填写短信验证码（sms_code）');
  const now = new Date(deps.now());
  const active = await smsCodeRepo.active(deps.db, phone, now, MAX_WRONG_TRIES);
  const { ids, guessed } = active.length > 0 ? await comparable(deps, active, weixinUserId) : { ids: [], guessed: [] };
  const tried = await smsCodeRepo.takeTry(deps.db, ids, MAX_WRONG_TRIES);
  const given = /^\d{6}$/.test(code) ? Buffer.from(deps.hash(phone, code)) : null;
  const match = given && tried.find((r) => timingSafeEqual(Buffer.from(r.codeHash), given));
  if (match) {
    // A right guess costs no try, nor a stranger's one comparison (a binding refused for another
    // reason gives the code back, to be used again); only one request gets the row.
    await smsCodeRepo.giveBackTry(
      deps.db,
      tried.map((r) => r.id),
    );
    await smsCodeRepo.takeBack(deps.db, guessed);
    if (await smsCodeRepo.spend(deps.db, match.id, now)) return match.id;
    throw new AppError('SMS_CODE_INVALID', '短信验证码已被使用（sms_code）');
  }
  await smsCodeRepo.spendExhausted(
    deps.db,
    tried.map((r) => r.id),
    now,
    MAX_WRONG_TRIES,
  );
  throw new AppError('SMS_CODE_INVALID', '短信验证码错误或已过期（sms_code）');
}
