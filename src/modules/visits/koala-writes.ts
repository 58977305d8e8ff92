import type { KoalaPort } from '../../adapters/koala/port.js';
import type { Db } from '../../db/client.js';
import type { Logger } from '../../log.js';
import { failureReason } from '../../retry.js';
import { visitRepo, type PassRow } from './repo.js';

/** What one Koala write came to: finished, to be tried again later, or given up. */
export type Outcome = 'done' | { retryInSeconds: number; reason: string } | { gaveUp: string };

export interface KoalaWritesDeps {
  db: Db;
  koala: KoalaPort;
  logger: Logger;
  now: () => number;
  /** How long one writer holds a pass while it calls Koala (longer than a Koala call can take). */
  leaseSeconds: number;
  /** Attempts at creating a visitor before giving up (deleting is never given up). */
  createRetryLimit: number;
  /** The delay before the next attempt, after `attempts` of them. */
  backoff: (attempts: number) => number;
  /** Queues a deletion now: a visitor created for a pass revoked meanwhile. */
  deleteLater: (passId: number) => Promise<void>;
}

export interface KoalaWrites {
  /** Creates the Koala visitor of a pass (or adopts the one an earlier attempt left). */
  create(passId: number): Promise<Outcome>;
  /** Deletes the Koala visitor of a pass, and any copy a lost answer left; `knownSubjectId` when the pass row may be gone. */
  remove(passId: number, knownSubjectId: number | undefined, attempt: number): Promise<Outcome>;
}

/**
 * The Koala writes of passes, each under the pass's lease. A pass row is the record of where its
 * Koala subject stands (subject_id, subject_deleted_at), so a write repeated by a redelivered job
 * does nothing twice.
 */
export function createKoalaWrites(deps: KoalaWritesDeps): KoalaWrites {
  return {
    create: (passId) => createVisitor(deps, passId),
    remove: (passId, knownSubjectId, attempt) => removeVisitor(deps, passId, knownSubjectId, attempt),
  };
}

const secondsNow = (deps: KoalaWritesDeps) => Math.floor(deps.now() / 1000);

function lease(deps: KoalaWritesDeps, passId: number, op: 'create' | 'delete'): Promise<PassRow | null> {
  const now = secondsNow(deps);
  return visitRepo.lease(deps.db, passId, op, now, now + deps.leaseSeconds);
}

/** Another writer holds the pass: look again when its lease ends, or within 5 s (it may finish early). */
function heldElsewhere(deps: KoalaWritesDeps, leaseUntil: number | null): Outcome {
  return { retryInSeconds: Math.min(5, Math.max(1, (leaseUntil ?? 0) - secondsNow(deps) + 1)), reason: 'another writer holds the pass' };
}

/** The visitor an earlier attempt created for this pass, if any; extra copies are deleted. */
async function landedBefore(deps: KoalaWritesDeps, pass: PassRow, remark: string, start: number, end: number): Promise<number | null> {
  const found = (await deps.koala.findVisitors(pass.name)).filter(
    (v) => v.phone === pass.phone && v.remark === remark && v.startTime === start && v.endTime === end,
  );
  if (found.length === 0) return null;
  const [keep, ...extra] = found.sort((x, y) => x.subjectId - y.subjectId);
  for (const v of extra) await deps.koala.deleteSubject(v.subjectId);
  deps.logger.info({ passId: pass.id, subjectId: keep!.subjectId }, 'adopted a Koala visitor an earlier attempt had created');
  return keep!.subjectId;
}

async function createVisitor(deps: KoalaWritesDeps, passId: number): Promise<Outcome> {
  const { db, koala } = deps;
  const pass = await lease(deps, passId, 'create');
  if (!pass) {
    const row = await visitRepo.pass(db, passId);
    if (!row || row.subjectId !== null || row.revokedAt !== null) return 'done';
    // Another writer holds it: look again once its lease has run out (it may fail).
    return heldElsewhere(deps, row.koalaLeaseUntil);
  }
  const visit = await visitRepo.findApplication(db, pass.applicationId);
  if (!visit || visit.endTime <= secondsNow(deps)) {
    await visitRepo.release(db, passId, { koalaError: 'window over before Koala could be written' });
    return 'done';
  }
  const remark = `来访 #${visit.id}`;
  let subjectId: number;
  try {
    // An earlier attempt may have created the visitor and lost the answer (a timeout after
    // Koala committed): adopt what it made instead of creating a second one.
    const earlier = pass.koalaAttempts > 1 ? await landedBefore(deps, pass, remark, visit.startTime, visit.endTime) : null;
    subjectId =
      earlier ??
      (await koala.createVisitor({
        name: pass.name,
        phone: pass.phone,
        startTime: visit.startTime,
        endTime: visit.endTime,
        interviewee: visit.interviewee,
        purpose: visit.purpose,
        comeFrom: visit.comeFrom,
        remark,
      }));
  } catch (err) {
    const reason = failureReason(err);
    await visitRepo.release(db, passId, { koalaError: reason.slice(0, 500) });
    if (pass.koalaAttempts > deps.createRetryLimit) return { gaveUp: reason };
    return { retryInSeconds: deps.backoff(pass.koalaAttempts), reason };
  }
  const after = await visitRepo.release(db, passId, { subjectId, koalaError: null });
  // Checked out while Koala was being written: the new subject goes at once.
  if (after?.revokedAt != null) await deps.deleteLater(passId);
  return 'done';
}

/** Deletes a subject whose pass row no longer exists; retried like any deletion. */
async function removeOrphan(deps: KoalaWritesDeps, subjectId: number, attempt: number): Promise<Outcome> {
  try {
    await deps.koala.deleteSubject(subjectId);
    return 'done';
  } catch (err) {
    return { retryInSeconds: deps.backoff(attempt), reason: failureReason(err) };
  }
}

async function removeVisitor(deps: KoalaWritesDeps, passId: number, knownSubjectId: number | undefined, attempt: number): Promise<Outcome> {
  const { db, koala } = deps;
  const pass = await lease(deps, passId, 'delete');
  if (!pass) {
    const row = await visitRepo.pass(db, passId);
    if (!row) return knownSubjectId === undefined ? 'done' : removeOrphan(deps, knownSubjectId, attempt);
    if (row.subjectDeletedAt !== null) return 'done';
    return heldElsewhere(deps, row.koalaLeaseUntil);
  }
  // Never tried in Koala (this lease is the pass's first), and a creator seeing the revoked
  // pass does not write it any more.
  if (pass.subjectId === null && pass.koalaAttempts <= 1) {
    await visitRepo.release(db, passId, { subjectDeletedAt: secondsNow(deps) });
    return 'done';
  }
  try {
    if (pass.subjectId !== null) await koala.deleteSubject(pass.subjectId);
    // A create whose answer was lost (timeout after Koala committed) left a visitor we never
    // recorded: found by its remark and phone, it goes too.
    const remark = `来访 #${pass.applicationId}`;
    for (const v of await koala.findVisitors(pass.name)) {
      if (v.phone === pass.phone && v.remark === remark && v.subjectId !== pass.subjectId) await koala.deleteSubject(v.subjectId);
    }
  } catch (err) {
    const reason = failureReason(err);
    await visitRepo.release(db, passId, { koalaError: reason.slice(0, 500) });
    return { retryInSeconds: deps.backoff(pass.koalaAttempts), reason };
  }
  await visitRepo.release(db, passId, { subjectDeletedAt: secondsNow(deps), koalaError: null });
  return 'done';
}
