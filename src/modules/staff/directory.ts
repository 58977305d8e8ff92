import type { KoalaEmployee, KoalaPort } from '../../adapters/koala/port.js';
import type { Db } from '../../db/client.js';
import { AppError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { createRecentRows, type RecentRows } from './recent-rows.js';
import { staffRepo, type StaffRow } from './repo.js';

export interface StaffMember {
  subjectId: number;
  name: string;
  phone: string;
  department: string;
  koalaAvatarUrl: string;
}

export interface StaffDirectory {
  /**
   * The Koala employee with this phone, or null. Koala cannot search by phone (§3.1).
   * `recentEnough`: a remembered employee read from Koala within the last
   * min(WRITE_PATH_FRESH_SECONDS, KOALA_CACHE_SECONDS) is used without asking Koala again.
   */
  findByPhone(phone: string, opts?: { recentEnough?: boolean }): Promise<StaffMember | null>;
  /**
   * What findByPhone(phone, { recentEnough: true }) would answer from this process's memory
   * alone (no database, no Koala), or null when it would have to look.
   */
  recentlyConfirmed(phone: string): StaffMember | null;
  /** The Koala employee with exactly this name and phone, or null. */
  findByNameAndPhone(name: string, phone: string): Promise<StaffMember | null>;
}

const SCAN_KEY = 'koala_directory_scanned_at';
const PAGE_SIZE = 100;
const MAX_PAGES = 500;
const RECENT_ROWS_MAX = 10_000;
/**
 * POST /v1/subject checks on every invitation that the caller is a Koala employee. A staff
 * member sending several invitations in a row would make Koala re-read the same employee each
 * time (a round trip to a slow box, ~1/3 of the route's work in the benchmark): within this many
 * seconds of the last read, that read stands. An employee removed from Koala can still invite
 * for at most this long; GET /v1/subject/binding re-reads every time.
 */
export const WRITE_PATH_FRESH_SECONDS = 30;

export interface StaffDirectoryDeps {
  db: Db;
  koala: KoalaPort;
  logger: Logger;
  now: () => number;
  /** How long a full pass through the employees answers "not staff" without another pass. */
  cacheSeconds: number;
  /** How long a remembered employee is used without re-reading GET /subject/{id} (0: always re-read, as §3.1 says). */
  refreshSeconds: number;
}

/** The directory's state in this process: the rows read lately, and the one scan in flight. */
interface Directory extends StaffDirectoryDeps {
  recent: RecentRows;
  scanOnce(): Promise<void>;
}

/**
 * Koala is slow and fragile, so what it said is kept in `staff_cache` (by phone): a remembered
 * employee is re-read with GET /subject/{id} (unless read within KOALA_STAFF_REFRESH_SECONDS),
 * and while Koala is unreachable the last answer is used. A phone we have never seen costs one
 * pass through the employee list, shared by concurrent callers and not repeated within the cache
 * period.
 */
export function createStaffDirectory(deps: StaffDirectoryDeps): StaffDirectory {
  const windowMs = Math.min(WRITE_PATH_FRESH_SECONDS, deps.cacheSeconds) * 1000;
  const recent = createRecentRows({ now: deps.now, windowMs, pruneEveryMs: WRITE_PATH_FRESH_SECONDS * 1000, max: RECENT_ROWS_MAX });
  let scanning: Promise<void> | null = null;
  const dir: Directory = {
    ...deps,
    recent,
    scanOnce() {
      scanning ??= scanDirectory(dir).finally(() => {
        scanning = null;
      });
      return scanning;
    },
  };
  return {
    findByPhone: (phone, opts) => findByPhone(dir, phone, opts),
    findByNameAndPhone: (name, phone) => findByNameAndPhone(dir, name, phone),
    recentlyConfirmed(phone) {
      const kept = recent.get(phone);
      return kept ? toMember(kept) : null;
    },
  };
}

/** A cache row; Koala's free text is cut to the columns' sizes (front desks type anything). */
function toRow(e: KoalaEmployee, now: number): StaffRow {
  return {
    phone: e.phone,
    subjectId: e.subjectId,
    name: e.name.slice(0, 64),
    department: e.department.slice(0, 128),
    koalaAvatarUrl: e.avatarUrl,
    refreshedAt: new Date(now),
  };
}

function toMember(row: StaffRow): StaffMember {
  return { subjectId: row.subjectId, name: row.name, phone: row.phone, department: row.department, koalaAvatarUrl: row.koalaAvatarUrl };
}

async function remember(dir: Directory, e: KoalaEmployee): Promise<StaffMember> {
  const row = toRow(e, dir.now());
  await staffRepo.upsert(dir.db, [row]);
  dir.recent.keep(row);
  return { subjectId: e.subjectId, name: e.name, phone: e.phone, department: e.department, koalaAvatarUrl: e.avatarUrl };
}

async function forget(dir: Directory, phone: string): Promise<void> {
  dir.recent.drop(phone);
  await staffRepo.remove(dir.db, phone);
}

/** One pass through Koala's employee list into the cache, a statement a page. */
async function scanDirectory(dir: Directory): Promise<void> {
  const seen = new Set<string>();
  for (let page = 1; page <= MAX_PAGES; page++) {
    const result = await dir.koala.searchEmployees('', page, PAGE_SIZE);
    const batch: StaffRow[] = [];
    for (const e of result.items) {
      if (e.phone && !seen.has(e.phone)) {
        seen.add(e.phone);
        batch.push(toRow(e, dir.now()));
      }
    }
    // One statement a page: a directory of thousands is read on a user's request.
    await staffRepo.upsert(dir.db, batch);
    if (result.items.length === 0 || page >= result.page.total) break;
  }
  const now = new Date(dir.now());
  await staffRepo.setState(dir.db, SCAN_KEY, now.getTime(), now);
  dir.logger.info({ employees: seen.size }, 'Koala employee directory scanned');
}

async function findByPhone(dir: Directory, phone: string, opts: { recentEnough?: boolean } = {}): Promise<StaffMember | null> {
  const kept = opts.recentEnough ? dir.recent.get(phone) : null;
  if (kept) return toMember(kept);
  const row = await staffRepo.byPhone(dir.db, phone);
  if (row) dir.recent.keep(row);
  const current = (at: Date) => dir.now() - at.getTime() < dir.refreshSeconds * 1000;
  if (row && (current(row.refreshedAt) || (opts.recentEnough && dir.recent.isRecent(row.refreshedAt)))) return toMember(row);
  if (row) {
    try {
      const e = await dir.koala.getEmployee(row.subjectId);
      if (e && e.phone === phone) return remember(dir, e);
      // Koala does not have this employee under this phone any more: forget, then look again below.
      await forget(dir, phone);
    } catch (err) {
      if (err instanceof UpstreamError) {
        dir.logger.warn({ err }, 'Koala unreachable: using the remembered employee');
        return toMember(row);
      }
      throw err;
    }
  }
  await scanUnlessFresh(dir, row !== null);
  const after = await staffRepo.byPhone(dir.db, phone);
  return after ? toMember(after) : null;
}

/**
 * A pass through the employees, unless a complete one is recent (and the phone was not a
 * remembered employee Koala no longer confirms). While Koala is down the last complete pass
 * (however old) answers, as for a remembered employee; without any pass nobody can tell.
 */
async function scanUnlessFresh(dir: Directory, wasRemembered: boolean): Promise<void> {
  const state = await staffRepo.state(dir.db, SCAN_KEY);
  const lastScan = state?.updatedAt ?? null;
  const fresh = lastScan !== null && dir.now() - lastScan.getTime() < dir.cacheSeconds * 1000;
  if (fresh && !wasRemembered) return;
  try {
    await dir.scanOnce();
  } catch (err) {
    if (!(err instanceof UpstreamError) || !lastScan) throw err;
    dir.logger.warn({ err }, 'Koala unreachable: using the last pass through the employees');
  }
}

async function findByNameAndPhone(dir: Directory, name: string, phone: string): Promise<StaffMember | null> {
  const wanted = name.trim();
  try {
    for (let page = 1; page <= MAX_PAGES; page++) {
      const result = await dir.koala.searchEmployees(wanted, page, PAGE_SIZE);
      const match = result.items.find((e) => e.phone === phone && e.name.trim() === wanted);
      if (match) return remember(dir, match);
      if (result.items.length === 0 || page >= result.page.total) break;
    }
    return null;
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    // Koala is down: a confirmation it gave us earlier still counts.
    const row = await staffRepo.byPhone(dir.db, phone);
    if (row && row.name.trim() === wanted) {
      dir.logger.warn({ err }, 'Koala unreachable: using the remembered employee');
      return toMember(row);
    }
    throw err;
  }
}

/** For routes: the employee or 404 STAFF_NOT_FOUND. */
export function mustBeStaff(member: StaffMember | null, message = '考拉系统中没有该员工'): StaffMember {
  if (!member) throw new AppError('STAFF_NOT_FOUND', message);
  return member;
}
