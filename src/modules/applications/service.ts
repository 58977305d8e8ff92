import { createHash } from 'node:crypto';
import type { Config } from '../../config.js';
import type { Database, Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { Audit } from '../audit/service.js';
import { normalizePhone } from '../../phone.js';
import type { StaffDirectory } from '../staff/directory.js';
import type { Purposes } from '../staff/purposes.js';
import type { PageCache } from './page-cache.js';
import { planNotifications, type ApplicationFacts, type NotificationEvent } from '../notifications/plan.js';
import { writeOutbox } from '../notifications/outbox.js';
import { applicationRepo, idempotencyRepo, type ApplicationRecord, type ListKind, type NewPerson, type Page } from './repo.js';
import { applyWindowRepo } from './repo/windows.js';
import { rateLimited, retryAfter } from './window.js';
import { createApplicationWriter } from './writer.js';

export interface ApplyInput {
  subject_type?: number;
  name: string;
  phone: string;
  purpose?: number;
  come_from?: string;
  remark?: string;
  proposer?: string;
  interviewee: string;
  interviewee_phone: string;
  start_time: number;
  end_time: number;
  retinues?: Array<{ name: string; phone: string }>;
}

export interface Caller {
  weixinUserId: string;
  phone: string;
}

export interface ApplicationsDeps {
  database: Database;
  staff: StaffDirectory;
  purposes: Purposes;
  templates: Config['templates'];
  /** Template ids in force (admin overrides over `templates`), read inside the transaction. */
  templateSource?: (tx: Db) => Promise<Config['templates']>;
  /** Records `application.authorize` in the authorizing transaction. */
  audit?: Audit;
  recordsUrl: string;
  applyPerHour: number;
  /** Record-list pages; this process's own writes invalidate their phones as soon as they commit. */
  pages?: PageCache;
  now: () => number;
}

const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

/** A page of records and the list's total, as the body of the answer. */
export type PageSerializer = (rows: ApplicationRecord[], count: number) => string;

export interface Applications {
  apply(caller: Caller, input: ApplyInput, idempotencyKey?: string): Promise<ApplicationRecord>;
  /** A page of 3.9 / 3.10 as the serialized list envelope, from the page cache when it holds it. */
  /** `serialize` turns the page into the answer's body (the route's envelope); the cache keeps that body. */
  pageJson(list: ListKind, callerPhone: string, isAuth: number | undefined, page: Page, serialize: PageSerializer): Promise<string>;
  authorize(callerPhone: string, id: number): Promise<ApplicationRecord>;
}

function phoneField(field: string, value: string): string {
  const phone = normalizePhone(value);
  if (!phone) throw new AppError('VALIDATION_FAILED', `字段 ${field} 不是有效的手机号`);
  return phone;
}

/** C0/C1 control characters (NUL cannot even be stored) and unpaired UTF-16 surrogates. */
const NOT_TEXT = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;
/** The same, but line breaks and tabs are text in a remark. */
const NOT_MULTILINE_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|\p{Cs}/u;

function textField(field: string, value: string | undefined, min: number, max: number, multiline = false): string {
  const v = (value ?? '').trim();
  if ((multiline ? NOT_MULTILINE_TEXT : NOT_TEXT).test(v)) throw new AppError('VALIDATION_FAILED', `字段 ${field} 含有不可见的控制字符或无效字符`);
  if (v.length < min) throw new AppError('VALIDATION_FAILED', `字段 ${field} 不能为空`);
  if ([...v].length > max) throw new AppError('VALIDATION_FAILED', `字段 ${field} 不能超过 ${max} 个字`);
  return v;
}

/** Stable over key order, so a retried body hashes the same. */
function canonicalHash(value: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canon(value)))
    .digest('hex');
}

export function createApplications(deps: ApplicationsDeps): Applications {
  const { db } = deps.database;
  const writer = createApplicationWriter({ database: deps.database, perHour: deps.applyPerHour, now: deps.now });
  const nowSeconds = () => Math.floor(deps.now() / 1000);

  async function replay(owner: string, key: string, hash: string): Promise<ApplicationRecord | null> {
    const row = await idempotencyRepo.find(db, owner, key, new Date(deps.now() - IDEMPOTENCY_TTL_MS));
    if (!row) return null;
    if (row.requestHash !== hash) throw new AppError('CONFLICT', '同一个 Idempotency-Key 已用于另一个请求');
    return row.response as ApplicationRecord;
  }

  /** Refuses a caller at the hourly limit before a lookup (the statement that writes checks it again, exactly). */
  async function checkRate(phone: string): Promise<void> {
    const wait = retryAfter(await applyWindowRepo.read(deps.database, phone), nowSeconds(), deps.applyPerHour);
    if (wait !== null) throw rateLimited(deps.applyPerHour, wait);
  }

  async function queueNotifications(tx: Db, id: number, event: NotificationEvent, facts: ApplicationFacts): Promise<void> {
    const templates = deps.templateSource ? await deps.templateSource(tx) : deps.templates;
    const planned = planNotifications(event, facts, templates, deps.recordsUrl);
    // The outbox rows: sent by the notification worker (at its next poll) once the transaction commits.
    await writeOutbox(tx, id, planned, new Date(deps.now()));
  }

  return {
    async apply(caller, input, idempotencyKey) {
      const hash = canonicalHash(input);
      if (idempotencyKey) {
        const earlier = await replay(caller.weixinUserId, idempotencyKey, hash);
        if (earlier) return earlier;
      }

      const name = textField('name', input.name, 1, 32);
      const interviewee = textField('interviewee', input.interviewee, 1, 32);
      const comeFrom = textField('come_from', input.come_from, 0, 64);
      const remark = textField('remark', input.remark, 0, 200, true);
      const phone = phoneField('phone', input.phone);
      const hostPhone = phoneField('interviewee_phone', input.interviewee_phone);
      const retinues = (input.retinues ?? []).map((r, i) => ({
        name: textField(`retinues[${i}].name`, r.name, 1, 32),
        phone: phoneField(`retinues[${i}].phone`, r.phone),
      }));
      if (input.start_time >= input.end_time) throw new AppError('VALIDATION_FAILED', '字段 end_time 必须晚于 start_time');
      if (input.end_time <= nowSeconds()) throw new AppError('VALIDATION_FAILED', '字段 end_time 必须是将来的时间');
      if (phone === hostPhone) throw new AppError('VALIDATION_FAILED', '字段 phone 不能与被访人手机号 interviewee_phone 相同');
      const seen = new Set([phone, hostPhone]);
      retinues.forEach((r, i) => {
        if (seen.has(r.phone)) throw new AppError('VALIDATION_FAILED', `字段 retinues[${i}].phone 与其他人员的手机号重复`);
        seen.add(r.phone);
      });

      // Still validation (400), which comes before the business rules (§2).
      const purposeValue = input.purpose ?? 0;
      const purpose = (await deps.purposes.list()).find((x) => x.value === purposeValue);
      if (!purpose) throw new AppError('VALIDATION_FAILED', `字段 purpose 不是可选的来访目的`);

      const kind = caller.phone === hostPhone ? 'invitation' : caller.phone === phone ? 'request' : null;
      if (!kind) throw new AppError('NOT_PROPOSER');

      // A member of staff confirmed moments ago needs no lookup; any other lookup may ask
      // Koala, so an over-limit caller is refused before it (cheaply; the statement that
      // writes checks the limit again, under the caller's lock).
      let host = kind === 'invitation' ? deps.staff.recentlyConfirmed(hostPhone) : null;
      if (!host) {
        await checkRate(caller.phone);
        host =
          kind === 'invitation' ? await deps.staff.findByPhone(hostPhone, { recentEnough: true }) : await deps.staff.findByNameAndPhone(interviewee, hostPhone);
      }
      if (!host) {
        throw new AppError('STAFF_NOT_FOUND', kind === 'invitation' ? '您不是考拉系统中的员工，不能发起邀请' : '被访人姓名与手机号不匹配，或不是本公司员工');
      }

      const createdAt = nowSeconds();
      const facts: ApplicationFacts = {
        kind,
        name,
        phone,
        proposer: caller.phone,
        interviewee: host.name,
        intervieweePhone: hostPhone,
        startTime: input.start_time,
        retinues,
      };
      const people: NewPerson[] = [
        { role: 'host', name: host.name, phone: hostPhone },
        { role: 'visitor', name, phone },
        ...retinues.map((r) => ({ role: 'companion' as const, name: r.name, phone: r.phone })),
      ];

      // Template ids in force, read before the caller's lock is taken (the lock is held only
      // for the one statement that writes).
      const templates = deps.templateSource ? await deps.templateSource(db) : deps.templates;
      const planned = planNotifications(kind === 'invitation' ? 'invitation_created' : 'request_created', facts, templates, deps.recordsUrl);

      const row = {
        subjectType: 1,
        kind,
        name,
        phone,
        purpose: purpose.value,
        purposeName: purpose.label,
        comeFrom,
        remark,
        proposer: caller.phone,
        proposerWeixinUserId: caller.weixinUserId,
        interviewee: host.name,
        intervieweePhone: hostPhone,
        intervieweeSubjectId: host.subjectId,
        startTime: input.start_time,
        endTime: input.end_time,
        isAuth: kind === 'invitation' ? 1 : 0,
        authTime: kind === 'invitation' ? createdAt : null,
        createdAt,
      };
      // What findById would read back, built from what is written (its id comes from the write).
      const made: Omit<ApplicationRecord, 'id'> = {
        subject_type: row.subjectType,
        name: row.name,
        phone: row.phone,
        purpose: row.purpose,
        purpose_name: row.purposeName,
        come_from: row.comeFrom,
        remark: row.remark,
        proposer: row.proposer,
        interviewee: row.interviewee,
        interviewee_phone: row.intervieweePhone,
        start_time: row.startTime,
        end_time: row.endTime,
        is_auth: row.isAuth,
        auth_time: row.authTime,
        created_at: row.createdAt,
        retinues: retinues.map((r) => ({ name: r.name, phone: r.phone })),
      };
      // A staff invitation is authorized by its host as it is created: audited as such.
      const audit =
        kind === 'invitation' && deps.audit
          ? { actorKind: 'staff', actorId: caller.phone, action: 'application.authorize', detail: { via: 'invitation' } }
          : null;
      const idempotency = idempotencyKey ? { owner: caller.weixinUserId, key: idempotencyKey, requestHash: hash, response: made } : null;

      // The application, its people, its outbox rows, its audit entry and its key: one statement
      // (with other callers' applications), which writes nothing of it at the caller's hourly limit.
      let record: ApplicationRecord | null = null;
      for (let attempt = 0; !record; attempt++) {
        const result = await writer.write({ row, people, outbox: planned, audit, idempotency });
        if ('id' in result) record = { id: result.id, ...made };
        // A slot freed since the statement ran: the caller may retry at once.
        else if ('limited' in result) throw rateLimited(deps.applyPerHour, retryAfter(result.limited, createdAt, deps.applyPerHour) ?? 1);
        else {
          // The key was taken meanwhile (a concurrent retry, maybe on another replica): its answer.
          const earlier = await replay(caller.weixinUserId, idempotencyKey!, hash);
          if (earlier) return earlier;
          // Or an expired key of the same name: it is replaced.
          if (attempt > 0) throw new AppError('CONFLICT', '同一个 Idempotency-Key 的请求正在处理，请稍后重试');
          await idempotencyRepo.deleteExpired(db, caller.weixinUserId, idempotencyKey!, new Date(deps.now() - IDEMPOTENCY_TTL_MS));
        }
      }
      deps.pages?.invalidate(people.map((p) => p.phone));
      return record;
    },

    pageJson(list, phone, isAuth, page, serialize) {
      const load = async () => {
        const { rows, count } = await applicationRepo.listPage(deps.database, list, phone, isAuth, page);
        return serialize(rows, count);
      };
      // Later pages are rarely read twice: only the first few are kept.
      if (!deps.pages || page.page > 3) return load();
      return deps.pages.read(phone, `${list}:${isAuth ?? ''}:${page.page}:${page.size}`, load);
    },

    async authorize(callerPhone, id) {
      const record = await db.transaction(async (tx) => {
        const current = await applicationRepo.findById(tx, id, { forUpdate: true });
        // Not the host: the record's existence is not revealed.
        if (!current || current.interviewee_phone !== callerPhone) throw new AppError('NOT_FOUND');
        if (current.is_auth === 1) return current;
        const at = nowSeconds();
        await applicationRepo.markAuthorized(tx, id, at);
        await deps.audit?.record(tx, {
          actor: { kind: 'staff', id: callerPhone },
          action: 'application.authorize',
          targetType: 'application',
          targetId: String(id),
        });
        await queueNotifications(tx, id, 'request_authorized', {
          kind: 'request',
          name: current.name,
          phone: current.phone,
          proposer: current.proposer,
          interviewee: current.interviewee,
          intervieweePhone: current.interviewee_phone,
          startTime: current.start_time,
          retinues: current.retinues,
        });
        return { ...current, is_auth: 1, auth_time: at };
      });
      deps.pages?.invalidate([record.interviewee_phone, record.phone, ...record.retinues.map((r) => r.phone)]);
      return record;
    },
  };
}
