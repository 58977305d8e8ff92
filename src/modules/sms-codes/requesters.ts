import { createHmac } from 'node:crypto';
import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { REQUESTER_SEND_LIMITS, sendRetryAfter } from './limits.js';
import { smsCodeRepo, type Counter } from './repo.js';

/** Who asks for a code: the session's WeChat user and the client's address. */
export interface Requester {
  weixinUserId: string;
  address: string;
}

export interface RequesterLimits {
  /** Different phones one WeChat user may ask codes for in an hour. */
  phonesPerCallerPerHour: number;
  /** Different phones codes may be asked for from one address in an hour; 0: no limit. */
  phonesPerAddressPerHour: number;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * What is kept about who asked for which code, in `rate_counters` (shared by every replica;
 * WeChat users, addresses and phones appear there only as keyed hashes; every row is named
 * `sms:…` and keyed by the end of its use, so the retention sweep deletes it once over):
 * - `sms:o:<code id>:<user>` — the code was asked for by that WeChat user, for a day (the
 *   longest send limit): whose code it is when it is tried, and the user's sends to the phone;
 * - `sms:g:<code id>:<user>` — that user, not the code's own, has guessed at the code;
 * - `sms:cp:` / `sms:ap:` `<user or address>:<phone>` — this hour's sends for the phone by that
 *   user / address, and `sms:c:` / `sms:a:` the number of different phones this hour.
 */
export function requesterBook(secret: string) {
  const key = createHmac('sha256', secret).update('laifang/sms-requester/v1').digest();
  const tag = (kind: string, value: string) => createHmac('sha256', key).update(`${kind}:${value}`).digest('base64url').slice(0, 22);
  return {
    user: (weixinUserId: string) => tag('u', weixinUserId),
    owner: (codeId: number, user: string) => `sms:o:${codeId}:${user}`,
    guess: (codeId: number, user: string) => `sms:g:${codeId}:${user}`,
    phone: (phone: string) => tag('p', phone),
    address: (address: string) => tag('a', address),
  };
}

export type RequesterBook = ReturnType<typeof requesterBook>;

/** The end of the fixed hour `now` is in (the key of that hour's rows). */
const hourEnd = (now: number) => (Math.floor(now / HOUR) + 1) * HOUR;

/**
 * Inside the phone's locked transaction, after the phone's own limits: refuses (429) a user who
 * already had the phone's share of REQUESTER_SEND_LIMITS, or who (or whose address) asks for
 * one phone too many this hour; otherwise counts the request. The counts are written by this
 * transaction, so a refusal (which rolls it back) counts nothing. Answers what to take back if
 * the SMS then cannot be sent.
 */
export async function admitRequester(
  tx: Db,
  ctx: { book: RequesterBook; limits: RequesterLimits; requester: Requester; phone: string; sent: Array<{ id: number; at: number }>; now: number },
): Promise<Counter[]> {
  const { book, limits, requester, phone, sent, now } = ctx;
  const user = book.user(requester.weixinUserId);
  const owned = await smsCodeRepo.present(
    tx,
    sent.map((s) => book.owner(s.id, user)),
  );
  const mine = sent.filter((s) => owned.has(book.owner(s.id, user))).map((s) => s.at);
  const retryAfter = sendRetryAfter(mine, now, REQUESTER_SEND_LIMITS);
  if (retryAfter !== null) throw new AppError('RATE_LIMITED', '您为这个手机号获取验证码的次数过多，请稍后再试', { retryAfter });

  const end = hourEnd(now);
  const phoneTag = book.phone(phone);
  const scopes = [{ who: `c:${user}`, max: limits.phonesPerCallerPerHour, message: '一小时内获取验证码的手机号过多，请稍后再试' }];
  if (limits.phonesPerAddressPerHour > 0) {
    const address = book.address(requester.address);
    scopes.push({ who: `a:${address}`, max: limits.phonesPerAddressPerHour, message: '当前网络获取验证码过于频繁，请稍后再试' });
  }
  const taken: Counter[] = [];
  for (const scope of scopes) {
    const kind = scope.who.slice(0, 1);
    const perPhone = { bucket: `sms:${kind}p:${scope.who.slice(2)}:${phoneTag}`, windowStart: end };
    taken.push(perPhone);
    if ((await smsCodeRepo.bump(tx, [perPhone])).get(perPhone.bucket) !== 1) continue;
    // A phone new to this user (address) this hour.
    const phones = { bucket: `sms:${scope.who}`, windowStart: end };
    taken.push(phones);
    if ((await smsCodeRepo.bump(tx, [phones])).get(phones.bucket)! > scope.max)
      throw new AppError('RATE_LIMITED', scope.message, { retryAfter: (end - now) / 1000 });
  }
  return taken;
}

/** Records that `weixinUserId` asked for the code `codeId` (for a day: the longest send limit). */
export async function recordOwner(tx: Db, book: RequesterBook, codeId: number, weixinUserId: string, createdAt: number): Promise<Counter> {
  const owner = { bucket: book.owner(codeId, book.user(weixinUserId)), windowStart: createdAt + DAY };
  await smsCodeRepo.bump(tx, [owner]);
  return owner;
}
