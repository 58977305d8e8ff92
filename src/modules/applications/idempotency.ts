import { createHash } from 'node:crypto';
import { and, eq, gte, lt } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { idempotencyKeys } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import type { ApplicationRecord } from './schemas.js';

/**
 * The Idempotency-Key of POST /v1/subject (§3.7), all of it: a key belongs to its caller, lives
 * 24 hours, and stands for one request body (hashed over sorted keys). A retry with the same
 * body gets the stored answer; another body gets 409. The key's row is written by the statement
 * that writes the application (repo/create-applications.ts), so a key exists iff its
 * application does; its primary key is the arbiter between replicas.
 */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

/** A request that carries a key: whose, which, and the hash of its body. */
export interface KeyClaim {
  owner: string;
  key: string;
  requestHash: string;
}

/** The row written with the application: the claim and the answer (the statement adds the new id). */
export interface KeyRow extends KeyClaim {
  response: Omit<ApplicationRecord, 'id'>;
}

/** SHA-256 of the body's JSON with every object's keys sorted, so a retried body hashes the same. */
export function requestHash(body: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canon((v as { [key: string]: unknown })[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canon(body)))
    .digest('hex');
}

/** The claim of a request with this key, or null without one. */
export function keyClaim(owner: string, key: string | undefined, body: unknown): KeyClaim | null {
  return key ? { owner, key, requestHash: requestHash(body) } : null;
}

export interface IdempotencyKeys {
  /** The stored answer of an earlier request with this key (409 when its body differs), or null. */
  replay(claim: KeyClaim): Promise<ApplicationRecord | null>;
  /**
   * The statement found the key taken: the answer stored meanwhile (a concurrent retry, maybe on
   * another replica), or null once an expired key of the same name was deleted (write again).
   * `attempt` > 0 means the key was replaced already and is taken again: 409.
   */
  taken(claim: KeyClaim, attempt: number): Promise<ApplicationRecord | null>;
}

export function createIdempotencyKeys(deps: { db: Db; now: () => number }): IdempotencyKeys {
  const { db } = deps;
  const live = () => new Date(deps.now() - IDEMPOTENCY_TTL_MS);
  const ofClaim = (c: KeyClaim) => and(eq(idempotencyKeys.owner, c.owner), eq(idempotencyKeys.key, c.key));

  async function replay(claim: KeyClaim): Promise<ApplicationRecord | null> {
    const [row] = await db
      .select({ requestHash: idempotencyKeys.requestHash, response: idempotencyKeys.response })
      .from(idempotencyKeys)
      .where(and(ofClaim(claim), gte(idempotencyKeys.createdAt, live())))
      .limit(1);
    if (!row) return null;
    if (row.requestHash !== claim.requestHash) throw new AppError('CONFLICT', '同一个 Idempotency-Key 已用于另一个请求');
    return storedAnswer(row.response as ApplicationRecord);
  }

  return {
    replay,
    async taken(claim, attempt) {
      const earlier = await replay(claim);
      if (earlier) return earlier;
      if (attempt > 0) throw new AppError('CONFLICT', '同一个 Idempotency-Key 的请求正在处理，请稍后重试');
      await db.delete(idempotencyKeys).where(and(ofClaim(claim), lt(idempotencyKeys.createdAt, live())));
      return null;
    },
  };
}

/**
 * An answer stored before records carried their status (migration 0009) lacks those fields:
 * they are the record's as it was answered then.
 */
function storedAnswer(r: ApplicationRecord): ApplicationRecord {
  const before: Partial<ApplicationRecord> = r;
  return {
    ...r,
    status: before.status ?? (r.is_auth === 1 ? 'approved' : 'pending'),
    status_reason: before.status_reason ?? '',
    signin_time: before.signin_time ?? null,
    signout_time: before.signout_time ?? null,
  };
}
