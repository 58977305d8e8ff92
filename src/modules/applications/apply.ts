import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { StaffDirectory, StaffMember } from '../staff/directory.js';
import type { Purposes } from '../staff/purposes.js';
import { buildApplication, phonesOf, type BuiltApplication, type Host } from './build.js';
import type { HostMisses } from './host-misses.js';
import { keyClaim, type IdempotencyKeys, type KeyClaim } from './idempotency.js';
import type { PageCache } from './page-cache.js';
import { applyWindowRepo } from './repo/windows.js';
import type { ApplicationRecord, ApplyInput } from './schemas.js';
import { choosePurpose, kindOf, validateApplication, type ApplicationKind, type ValidApplication, type VisitWindowLimits } from './validate.js';
import { rateLimited, retryAfter } from './window.js';
import type { ApplicationWriter } from './writer.js';

export interface Caller {
  weixinUserId: string;
  phone: string;
  /** The client's address (the host-lookup limit counts per address too). */
  address?: string;
}

export interface ApplyDeps {
  database: Database;
  staff: StaffDirectory;
  purposes: Purposes;
  /** The template ids in force. */
  templates: () => Promise<Config['templates']>;
  recordsUrl: string;
  perHour: number;
  visitWindow: VisitWindowLimits;
  /** Whether a staff invitation's authorization is audited. */
  audited: boolean;
  pages?: PageCache;
  now: () => number;
  writer: ApplicationWriter;
  keys: IdempotencyKeys;
  /** Visitor requests naming a host Koala does not confirm, counted per caller and address. */
  hostMisses: HostMisses;
}

export type Apply = (caller: Caller, input: ApplyInput, idempotencyKey?: string) => Promise<ApplicationRecord>;

/**
 * 3.7, a staff invitation (the caller is the host) or a visitor request (the caller is the
 * visitor): a key's stored answer → validate (pure) → resolve the host → build (pure) → write.
 * The write is one statement with other callers' applications (writer.ts), which writes nothing
 * of an application at its caller's hourly limit; the answer comes after it committed.
 */
export function createApply(deps: ApplyDeps): Apply {
  const nowSeconds = () => Math.floor(deps.now() / 1000);

  /** A cheap refusal at the hourly limit, before a lookup that may ask Koala (the write checks again, exactly). */
  async function refuseAtLimit(phone: string): Promise<void> {
    const wait = retryAfter(await applyWindowRepo.read(deps.database, phone), nowSeconds(), deps.perHour);
    if (wait !== null) throw rateLimited(deps.perHour, wait);
  }

  /** The host as Koala has it; a member of staff confirmed moments ago is answered from memory. */
  async function resolveHost(caller: Caller, kind: ApplicationKind, valid: ValidApplication): Promise<Host> {
    const confirmed = kind === 'invitation' ? deps.staff.recentlyConfirmed(valid.hostPhone) : null;
    if (confirmed) return confirmed;
    await refuseAtLimit(caller.phone);
    if (kind === 'request') return namedHost(caller, valid);
    const host = await deps.staff.findByPhone(valid.hostPhone, { recentEnough: true });
    if (!host) throw new AppError('STAFF_NOT_FOUND', '您不是考拉系统中的员工，不能发起邀请');
    return host;
  }

  /**
   * The host a visitor names: the caller's misses are counted before Koala is asked (hostMisses),
   * and a miss says only that the pair is not a member of staff — never which of name and phone
   * is wrong.
   */
  async function namedHost(caller: Caller, valid: ValidApplication): Promise<Host> {
    const takeBack = await deps.hostMisses.count(caller);
    let host: StaffMember | null;
    try {
      host = await deps.staff.findByNameAndPhone(valid.interviewee, valid.hostPhone);
    } catch (err) {
      // Koala down: nobody learnt anything, so it is no miss.
      await takeBack();
      throw err;
    }
    if (!host) throw new AppError('STAFF_NOT_FOUND', '没有找到这位被访人，请核对被访人的姓名和手机号');
    await takeBack();
    return host;
  }

  /** Writes the application with its key; a key taken meanwhile answers with its stored answer. */
  async function write(built: BuiltApplication, claim: KeyClaim | null): Promise<ApplicationRecord> {
    const { row, people, outbox, audit, record } = built;
    for (let attempt = 0; ; attempt++) {
      const result = await deps.writer.write({ row, people, outbox, audit, idempotency: claim && { ...claim, response: record } });
      if ('id' in result) return { id: result.id, ...record };
      // A slot freed since the statement ran: the caller may retry at once.
      if ('limited' in result) throw rateLimited(deps.perHour, retryAfter(result.limited, record.created_at, deps.perHour) ?? 1);
      const earlier = await deps.keys.taken(claim!, attempt);
      if (earlier) return earlier;
    }
  }

  return async function apply(caller, input, idempotencyKey) {
    const claim = keyClaim(caller.weixinUserId, idempotencyKey, input);
    const earlier = claim && (await deps.keys.replay(claim));
    if (earlier) return earlier;

    const valid = validateApplication(input, nowSeconds(), deps.visitWindow);
    const purpose = choosePurpose(await deps.purposes.list(), input.purpose);
    const kind = kindOf(caller.phone, valid);
    const host = await resolveHost(caller, kind, valid);
    const templates = await deps.templates();
    const built = buildApplication({
      caller,
      valid,
      kind,
      purpose,
      host,
      createdAt: nowSeconds(),
      templates,
      recordsUrl: deps.recordsUrl,
      audited: deps.audited,
    });

    const record = await write(built, claim);
    deps.pages?.invalidate(phonesOf(record));
    return record;
  };
}
