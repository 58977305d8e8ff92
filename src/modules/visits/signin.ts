import type { Config } from '../../config.js';
import type { Database, Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { maskPhone } from '../../log.js';
import { phoneField } from '../../phone.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import { writeOutbox } from '../notifications/outbox.js';
import { planSigninNotifications } from '../notifications/signin-plan.js';
import type { KoalaSync } from './koala-sync.js';
import type { PassViews, SigninView } from './pass-views.js';
import { hashToken, type PassKeys } from './passes.js';
import { pickVisit, signinRange } from './pick.js';
import { visitRepo, type PassRow, type VisitApplication } from './repo.js';

export interface SigninDeps {
  database: Database;
  koalaSync: KoalaSync;
  audit: Audit;
  keys: PassKeys;
  views: PassViews;
  now: () => number;
  /** The template ids in force (admin overrides over the environment), read in the sign-in's transaction. */
  templates: (tx: Db) => Promise<Config['templates']>;
  publicUrl: string;
  signinLeadMinutes: number;
}

/** How long a sign-in waits for Koala before answering without subject ids. */
const KOALA_WAIT_MS = 2000;

/**
 * Kiosk sign-in by the phone of the visitor or a companion. One transaction writes a pass per
 * person, the application's signin_time, the outbox rows, one Koala job per pass and the audit
 * entry; a later sign-in of the same visit finds those passes, shows the typed phone's own pass
 * again and is audited (`visit.signin_repeat`: a pass shown once more). Right after the commit
 * the Koala visitors are written, waited for at most KOALA_WAIT_MS. The answer shows in full only
 * the typed phone's pass: whoever stands at the kiosk learns no one else's pass or number.
 */
export async function signin(deps: SigninDeps, device: AuditEntry['actor'], rawPhone: string): Promise<SigninView> {
  const phone = phoneField('phone', rawPhone);
  const now = Math.floor(deps.now() / 1000);
  const { from, to } = signinRange(now, deps.signinLeadMinutes * 60);
  const picked = pickVisit(await visitRepo.candidates(deps.database.db, phone, from, to), now, deps.signinLeadMinutes);
  const { a, passes } = await deps.database.db.transaction((tx) => issuePasses(deps, tx, device, picked.id, now, phone));
  const signinTime = a.signinTime ?? now;
  const missing = passes.filter((p) => p.subjectId === null && p.revokedAt === null).map((p) => p.id);
  if (missing.length === 0) return deps.views.signin(a, passes, signinTime, phone);
  await waitForKoala(deps.koalaSync, missing);
  return deps.views.signin(a, await visitRepo.passes(deps.database.db, a.id), signinTime, phone);
}

/** The transaction of a sign-in: the visit's passes, existing or new, under the visit's row lock. */
async function issuePasses(
  deps: SigninDeps,
  tx: Db,
  device: AuditEntry['actor'],
  applicationId: number,
  now: number,
  phone: string,
): Promise<{ a: VisitApplication; passes: PassRow[] }> {
  // One sign-in per visit at a time (any replica): the second one finds the passes.
  const a = await visitRepo.lockApplication(tx, applicationId);
  if (!a || a.isAuth !== 1 || a.signoutTime !== null || a.endTime <= now) throw new AppError('CONFLICT', '访问状态已变化，请重试');
  const existing = await visitRepo.passes(tx, a.id);
  if (existing.length > 0) {
    // Showing a pass again is recorded: who asked (the masked phone), at which kiosk, when.
    const mine = existing.find((p) => p.phone === phone);
    await deps.audit.record(tx, {
      actor: device,
      action: 'visit.signin_repeat',
      targetType: 'application',
      targetId: String(a.id),
      detail: { phone: maskPhone(phone), pass: mine?.id ?? null },
    });
    return { a, passes: existing };
  }

  const people = await visitRepo.visitors(tx, a.id);
  const passes = await visitRepo.insertPasses(
    tx,
    people.map((p) => newPass(deps.keys, a.id, p, now)),
  );
  passes.sort((x, y) => x.position - y.position);
  await visitRepo.markSignedIn(tx, a.id, now);
  const planned = planSigninNotifications(
    {
      interviewee: a.interviewee,
      intervieweePhone: a.intervieweePhone,
      startTime: a.startTime,
      endTime: a.endTime,
      people: passes.map((p) => ({ name: p.name, phone: p.phone, passId: p.id })),
      recordsUrl: `${deps.publicUrl}/h5/#/records`,
    },
    await deps.templates(tx),
  );
  // The outbox rows: sent by the notification worker (at its next poll) once this transaction commits.
  await writeOutbox(tx, a.id, planned, new Date(deps.now()));
  // The safety net: if writing Koala right after this transaction fails, these jobs do it.
  await deps.koalaSync.enqueue(
    deps.database.executorFor(tx),
    passes.map((p) => ({ passId: p.id, op: 'create' as const })),
    1,
  );
  await deps.audit.record(tx, { actor: device, action: 'visit.signin', targetType: 'application', targetId: String(a.id), detail: { passes: passes.length } });
  return { a: { ...a, signinTime: now }, passes };
}

/** A new pass row: a fresh salt, and only the hash of the token derived from it. */
function newPass(keys: PassKeys, applicationId: number, person: { position: number; name: string; phone: string }, now: number) {
  const salt = keys.newSalt();
  return {
    applicationId,
    position: person.position,
    name: person.name,
    phone: person.phone,
    tokenSalt: salt,
    tokenHash: hashToken(keys.token(salt)),
    linkHash: hashToken(keys.linkCode(salt)),
    createdAt: now,
  };
}

/**
 * A visitor at the kiosk waits for a slow Koala only so long; the write goes on behind the
 * answer (and the queued job covers its failure), the answer then shows subject_id null.
 */
async function waitForKoala(koalaSync: KoalaSync, passIds: number[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([koalaSync.createNow(passIds), new Promise((r) => (timer = setTimeout(r, KOALA_WAIT_MS)))]);
  clearTimeout(timer);
}
