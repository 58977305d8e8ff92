import type { Config } from '../../config.js';
import type { Database, Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { KoalaSync } from './koala-sync.js';
import type { Logger } from '../../log.js';
import { normalizePhone } from '../../phone.js';
import { writeOutbox } from '../notifications/outbox.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import { planSigninNotifications } from '../notifications/signin-plan.js';
import { hashToken, qrContent, parseQrContent, type PassKeys } from './passes.js';
import { visitRepo, type PassRow, type VisitApplication } from './repo.js';

export interface VisitsDeps {
  database: Database;
  koalaSync: KoalaSync;
  audit: Audit;
  keys: PassKeys;
  logger: Logger;
  now: () => number;
  /** The template ids in force (admin overrides over the environment), read in the sign-in's transaction. */
  templates: (tx: Db) => Promise<Config['templates']>;
  publicUrl: string;
  signinLeadMinutes: number;
}

export interface PassView {
  subject_id: number | null;
  name: string;
  phone: string;
  qrcode: string;
  qrcode_img_url: string;
}

export interface SigninView extends PassView {
  id: number;
  interviewee: string;
  start_time: number;
  end_time: number;
  signin_time: number;
  retinues: PassView[];
}

export interface SignoutView {
  id: number;
  signin_time: number;
  signout_time: number;
}

export type Actor = AuditEntry['actor'];

export interface Visits {
  signin(device: Actor, phone: string): Promise<SigninView>;
  /** `hostPhone`: a phone session may only check out its own visitors (others: 404). */
  signout(actor: Actor, id: number, opts?: { hostPhone?: string; auto?: boolean }): Promise<SignoutView>;
  /** The turnstile: the person admitted, or PASS_INVALID / PASS_NOT_YET_VALID / PASS_EXPIRED. */
  check(qrcode: string): Promise<{ id: number; name: string; end_time: number }>;
  /** The QR content of a pass for its picture; null when the URL is not one we gave out or the pass is revoked. */
  passForImage(passId: number, key: string): Promise<string | null>;
  /** Checks out visits whose window has ended; returns how many. */
  sweepEnded(limit?: number): Promise<number>;
}

const DAY = 86_400;
/** How long a sign-in waits for Koala before answering without subject ids. */
const KOALA_WAIT_MS = 2000;
const SHANGHAI = 8 * 3600;

export function createVisits(deps: VisitsDeps): Visits {
  const { database, keys } = deps;
  const { db } = database;
  const nowSeconds = () => Math.floor(deps.now() / 1000);
  const imageUrl = (p: PassRow) => `${deps.publicUrl}/v1/visit/qrcode/${p.id}.png?k=${keys.imageKey(p.tokenSalt)}`;
  /** What the messages link to: the H5 pass page showing that picture full screen, with the brightness hint. */
  const passPageUrl = (p: PassRow) => `${deps.publicUrl}/h5/#/pass?img=${encodeURIComponent(imageUrl(p))}`;

  /** The application a phone signs in to now, or the reason there is none (issue 3). */
  async function pick(phone: string, now: number): Promise<VisitApplication> {
    const lead = deps.signinLeadMinutes * 60;
    // "Today" in China; the lead time may reach past midnight.
    const dayStart = Math.floor((now + SHANGHAI) / DAY) * DAY - SHANGHAI;
    const found = await visitRepo.candidates(db, phone, dayStart, Math.max(dayStart + DAY, now + lead + 1));
    if (found.length === 0) throw new AppError('NOT_FOUND', '今天没有该手机号的访问预约');
    const live = found.filter((a) => a.endTime > now && a.signoutTime === null);
    const open = live.find((a) => a.isAuth === 1 && a.startTime <= now + lead);
    if (open) return open;
    if (live.some((a) => a.isAuth !== 1)) throw new AppError('CONFLICT', '访问申请尚未授权');
    if (live.length > 0) throw new AppError('CONFLICT', `访问尚未开始，请在开始前 ${deps.signinLeadMinutes} 分钟内签到`);
    if (found.some((a) => a.signoutTime !== null && a.endTime > now)) throw new AppError('CONFLICT', '本次访问已签退');
    throw new AppError('CONFLICT', '访问时间已结束');
  }

  /** The token of a pass; a pass issued under another server secret gets a fresh hash (re-issued). */
  async function tokenOf(p: PassRow): Promise<string> {
    const token = keys.token(p.tokenSalt);
    const hash = hashToken(token);
    if (hash !== p.tokenHash) {
      deps.logger.warn({ passId: p.id }, 'pass issued under another server secret: re-issued');
      await visitRepo.rehash(db, p.id, hash);
    }
    return token;
  }

  async function view(a: VisitApplication, passes: PassRow[], signinTime: number): Promise<SigninView> {
    const views: PassView[] = [];
    for (const p of passes) {
      views.push({ subject_id: p.subjectId, name: p.name, phone: p.phone, qrcode: qrContent(a.id, await tokenOf(p)), qrcode_img_url: imageUrl(p) });
    }
    const [visitor, ...retinues] = views;
    if (!visitor) throw new AppError('INTERNAL', undefined, { detail: `application ${a.id} signed in without passes` });
    return { id: a.id, ...visitor, interviewee: a.interviewee, start_time: a.startTime, end_time: a.endTime, signin_time: signinTime, retinues };
  }

  async function signout(actor: Actor, id: number, opts: { hostPhone?: string; auto?: boolean } = {}): Promise<SignoutView> {
    const result = await db.transaction(async (tx) => {
      const a = await visitRepo.lockApplication(tx, id);
      // Another host's visit is not revealed.
      if (!a || (opts.hostPhone !== undefined && a.intervieweePhone !== opts.hostPhone)) throw new AppError('NOT_FOUND');
      if (a.signinTime === null) throw new AppError('CONFLICT', '访客尚未签到');
      if (a.signoutTime !== null) return { id, signin_time: a.signinTime, signout_time: a.signoutTime };
      const at = nowSeconds();
      await visitRepo.markSignedOut(tx, id, at);
      const passes = await visitRepo.revokePasses(tx, id, at);
      await deps.koalaSync.enqueue(
        database.executorFor(tx),
        passes.map((p) => ({ passId: p.id, op: 'delete' as const, ...(p.subjectId === null ? {} : { subjectId: p.subjectId }) })),
      );
      await deps.audit.record(tx, {
        actor,
        action: opts.auto ? 'visit.auto_signout' : 'visit.signout',
        targetType: 'application',
        targetId: String(id),
        detail: { passes: passes.length },
      });
      return { id, signin_time: a.signinTime, signout_time: at };
    });
    return result;
  }

  return {
    async signin(device, rawPhone) {
      const phone = normalizePhone(rawPhone);
      if (!phone) throw new AppError('VALIDATION_FAILED', '字段 phone 不是有效的手机号');
      const now = nowSeconds();
      const picked = await pick(phone, now);

      const { a, passes } = await db.transaction(async (tx) => {
        // One sign-in per visit at a time (any replica): the second one finds the passes.
        const a = await visitRepo.lockApplication(tx, picked.id);
        if (!a || a.isAuth !== 1 || a.signoutTime !== null || a.endTime <= now) throw new AppError('CONFLICT', '访问状态已变化，请重试');
        const existing = await visitRepo.passes(tx, a.id);
        if (existing.length > 0) return { a, passes: existing };

        const people = await visitRepo.visitors(tx, a.id);
        const passes = await visitRepo.insertPasses(
          tx,
          people.map((p) => {
            const salt = keys.newSalt();
            return {
              applicationId: a.id,
              position: p.position,
              name: p.name,
              phone: p.phone,
              tokenSalt: salt,
              tokenHash: hashToken(keys.token(salt)),
              createdAt: now,
            };
          }),
        );
        passes.sort((x, y) => x.position - y.position);
        await visitRepo.markSignedIn(tx, a.id, now);
        const planned = planSigninNotifications(
          {
            interviewee: a.interviewee,
            intervieweePhone: a.intervieweePhone,
            startTime: a.startTime,
            endTime: a.endTime,
            people: passes.map((p) => ({ name: p.name, phone: p.phone, passUrl: passPageUrl(p) })),
            recordsUrl: `${deps.publicUrl}/h5/#/records`,
          },
          await deps.templates(tx),
        );
        // The outbox rows: sent by the notification worker (at its next poll) once this transaction commits.
        await writeOutbox(tx, a.id, planned, new Date(deps.now()));
        // The safety net: if writing Koala right after this transaction fails, these jobs do it.
        await deps.koalaSync.enqueue(
          database.executorFor(tx),
          passes.map((p) => ({ passId: p.id, op: 'create' as const })),
          1,
        );
        await deps.audit.record(tx, {
          actor: device,
          action: 'visit.signin',
          targetType: 'application',
          targetId: String(a.id),
          detail: { passes: passes.length },
        });
        return { a: { ...a, signinTime: now }, passes };
      });

      const missing = passes.filter((p) => p.subjectId === null && p.revokedAt === null).map((p) => p.id);
      if (missing.length === 0) return view(a, passes, a.signinTime ?? now);
      // A visitor at the kiosk waits for a slow Koala only so long; the write goes on behind the
      // answer (and the job covers its failure), the answer then shows subject_id null.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([deps.koalaSync.createNow(missing), new Promise((r) => (timer = setTimeout(r, KOALA_WAIT_MS)))]);
      clearTimeout(timer);
      return view(a, await visitRepo.passes(db, a.id), a.signinTime ?? now);
    },

    signout,

    async check(qrcode) {
      const parsed = parseQrContent(qrcode);
      if (!parsed) throw new AppError('PASS_INVALID');
      const row = await visitRepo.checkPass(database, hashToken(parsed.token));
      // Unknown and forged look the same to the reader.
      if (!row || Number(row.application_id) !== parsed.id) throw new AppError('PASS_INVALID');
      const now = nowSeconds();
      if (row.revoked_at !== null || row.signout_time !== null || now >= Number(row.end_time)) throw new AppError('PASS_EXPIRED');
      if (now < Number(row.start_time)) throw new AppError('PASS_NOT_YET_VALID');
      return { id: parsed.id, name: row.name, end_time: Number(row.end_time) };
    },

    async passForImage(passId, key) {
      const p = await visitRepo.pass(db, passId);
      if (!p || p.revokedAt !== null || !keys.imageKeyMatches(p.tokenSalt, key)) return null;
      return qrContent(p.applicationId, await tokenOf(p));
    },

    async sweepEnded(limit = 100) {
      const ids = await visitRepo.ended(db, nowSeconds(), limit);
      let done = 0;
      for (const id of ids) {
        try {
          await signout({ kind: 'system', id: 'window-end' }, id, { auto: true });
          done++;
        } catch (err) {
          deps.logger.warn({ err, applicationId: id }, 'automatic check-out failed; the next sweep retries');
        }
      }
      return done;
    },
  };
}
