import { eq, sql } from 'drizzle-orm';
import type { KoalaEmployee, KoalaPort } from '../../adapters/koala/port.js';
import type { Db } from '../../db/client.js';
import { appState, staffCache } from '../../db/schema.js';
import { AppError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';

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
/**
 * POST /v1/subject checks on every invitation that the caller is a Koala employee. A staff
 * member sending several invitations in a row would make Koala re-read the same employee each
 * time (a round trip to a slow box, ~1/3 of the route's work in the benchmark, issue 5): within
 * this many seconds of the last read, that read stands. An employee removed from Koala can
 * still invite for at most this long; GET /v1/subject/binding keeps re-reading every time.
 */
export const WRITE_PATH_FRESH_SECONDS = 30;

/**
 * Koala is slow and fragile, so what it said is kept in `staff_cache` (by phone): a remembered
 * employee is re-read with GET /subject/{id} (unless read within KOALA_STAFF_REFRESH_SECONDS),
 * and while Koala is unreachable the last answer is used. A phone we have never seen costs one pass through the
 * employee list, shared by concurrent callers and not repeated within the cache period.
 */
export function createStaffDirectory(deps: {
  db: Db;
  koala: KoalaPort;
  logger: Logger;
  now: () => number;
  /** How long a full pass through the employees answers "not staff" without another pass. */
  cacheSeconds: number;
  /** How long a remembered employee is used without re-reading GET /subject/{id} (0: always re-read, as §3.1 says). */
  refreshSeconds: number;
}): StaffDirectory {
  const { db, koala } = deps;
  let scanning: Promise<void> | null = null;
  const fresh = (at: Date) => deps.now() - at.getTime() < deps.cacheSeconds * 1000;
  const current = (at: Date) => deps.now() - at.getTime() < deps.refreshSeconds * 1000;

  /** A cache row; Koala's free text is cut to the columns' sizes (front desks type anything). */
  function toRow(e: KoalaEmployee) {
    return {
      phone: e.phone,
      subjectId: e.subjectId,
      name: e.name.slice(0, 64),
      department: e.department.slice(0, 128),
      koalaAvatarUrl: e.avatarUrl,
      refreshedAt: new Date(deps.now()),
    };
  }

  /** Upserts many employees in one statement (phones must be distinct). */
  async function rememberAll(employees: KoalaEmployee[]): Promise<void> {
    if (employees.length === 0) return;
    await db
      .insert(staffCache)
      .values(employees.map(toRow))
      .onConflictDoUpdate({
        target: staffCache.phone,
        set: {
          subjectId: sql`excluded.subject_id`,
          name: sql`excluded.name`,
          department: sql`excluded.department`,
          koalaAvatarUrl: sql`excluded.koala_avatar_url`,
          refreshedAt: sql`excluded.refreshed_at`,
        },
      });
  }

  /**
   * The rows this process read or wrote lately, by phone: an invitation (`recentEnough`) from a
   * member of staff whose row was read from Koala within the write path's window is answered
   * from here, without a database round trip. The window is the same as for the stored row;
   * a removal another replica noticed is seen here when the window ends. Rows past it are
   * dropped as others are kept (at most one window later), so nothing lingers in memory.
   */
  const recentRows = new Map<string, typeof staffCache.$inferSelect>();
  const RECENT_ROWS_MAX = 10_000;
  let prunedAt = 0;
  function keep(row: typeof staffCache.$inferSelect): void {
    const now = deps.now();
    if (recentRows.size >= RECENT_ROWS_MAX || now - prunedAt >= WRITE_PATH_FRESH_SECONDS * 1000 || now < prunedAt) {
      prunedAt = now;
      for (const [phone, r] of recentRows) if (!recent(r.refreshedAt)) recentRows.delete(phone);
      if (recentRows.size >= RECENT_ROWS_MAX) recentRows.clear();
    }
    recentRows.set(row.phone, row);
  }

  async function remember(e: KoalaEmployee): Promise<StaffMember> {
    await rememberAll([e]);
    keep(toRow(e));
    return { subjectId: e.subjectId, name: e.name, phone: e.phone, department: e.department, koalaAvatarUrl: e.avatarUrl };
  }

  async function forget(phone: string): Promise<void> {
    recentRows.delete(phone);
    await db.delete(staffCache).where(eq(staffCache.phone, phone));
  }

  async function cached(phone: string) {
    const [row] = await db.select().from(staffCache).where(eq(staffCache.phone, phone)).limit(1);
    return row ?? null;
  }

  async function scanDirectory(): Promise<void> {
    const seen = new Set<string>();
    for (let page = 1; page <= MAX_PAGES; page++) {
      const result = await koala.searchEmployees('', page, PAGE_SIZE);
      const batch: KoalaEmployee[] = [];
      for (const e of result.items) {
        if (e.phone && !seen.has(e.phone)) {
          seen.add(e.phone);
          batch.push(e);
        }
      }
      // One statement a page: a directory of thousands is read on a user's request.
      await rememberAll(batch);
      if (result.items.length === 0 || page >= result.page.total) break;
    }
    const now = new Date(deps.now());
    await db
      .insert(appState)
      .values({ key: SCAN_KEY, value: now.getTime(), updatedAt: now })
      .onConflictDoUpdate({ target: appState.key, set: { value: now.getTime(), updatedAt: now } });
    deps.logger.info({ employees: seen.size }, 'Koala employee directory scanned');
  }

  /** When the employee list was last read through completely (null: never). */
  async function scannedAt(): Promise<Date | null> {
    const [row] = await db.select({ at: appState.updatedAt }).from(appState).where(eq(appState.key, SCAN_KEY)).limit(1);
    return row?.at ?? null;
  }

  function scanOnce(): Promise<void> {
    scanning ??= scanDirectory().finally(() => {
      scanning = null;
    });
    return scanning;
  }

  function toMember(row: typeof staffCache.$inferSelect): StaffMember {
    return { subjectId: row.subjectId, name: row.name, phone: row.phone, department: row.department, koalaAvatarUrl: row.koalaAvatarUrl };
  }

  const recent = (at: Date) => deps.now() - at.getTime() < Math.min(WRITE_PATH_FRESH_SECONDS, deps.cacheSeconds) * 1000;

  function recentlyConfirmed(phone: string): StaffMember | null {
    const kept = recentRows.get(phone);
    return kept && recent(kept.refreshedAt) && deps.now() >= kept.refreshedAt.getTime() ? toMember(kept) : null;
  }

  async function findByPhone(phone: string, opts: { recentEnough?: boolean } = {}): Promise<StaffMember | null> {
    const kept = opts.recentEnough ? recentlyConfirmed(phone) : null;
    if (kept) return kept;
    const row = await cached(phone);
    if (row) keep(row);
    if (row && (current(row.refreshedAt) || (opts.recentEnough && recent(row.refreshedAt)))) return toMember(row);
    if (row) {
      try {
        const e = await koala.getEmployee(row.subjectId);
        if (e && e.phone === phone) return remember(e);
        // Koala no longer has this employee under this phone: forget, then look again below.
        await forget(phone);
      } catch (err) {
        if (err instanceof UpstreamError) {
          deps.logger.warn({ err }, 'Koala unreachable: using the remembered employee');
          return toMember(row);
        }
        throw err;
      }
    }
    const lastScan = await scannedAt();
    if (!lastScan || !fresh(lastScan) || row) {
      try {
        await scanOnce();
      } catch (err) {
        // Koala is down: the last complete pass (however old) did not have this phone, so
        // answer from it, as for a remembered employee. Without any pass we cannot tell.
        if (!(err instanceof UpstreamError) || !lastScan) throw err;
        deps.logger.warn({ err }, 'Koala unreachable: using the last pass through the employees');
      }
    }
    const after = await cached(phone);
    return after ? toMember(after) : null;
  }

  async function findByNameAndPhone(name: string, phone: string): Promise<StaffMember | null> {
    const wanted = name.trim();
    try {
      for (let page = 1; page <= MAX_PAGES; page++) {
        const result = await koala.searchEmployees(wanted, page, PAGE_SIZE);
        const match = result.items.find((e) => e.phone === phone && e.name.trim() === wanted);
        if (match) return remember(match);
        if (result.items.length === 0 || page >= result.page.total) break;
      }
      return null;
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      // Koala is down: a confirmation it gave us earlier still counts.
      const row = await cached(phone);
      if (row && row.name.trim() === wanted) {
        deps.logger.warn({ err }, 'Koala unreachable: using the remembered employee');
        return toMember(row);
      }
      throw err;
    }
  }

  return { findByPhone, findByNameAndPhone, recentlyConfirmed };
}

/** For routes: the employee or 404 STAFF_NOT_FOUND. */
export function mustBeStaff(member: StaffMember | null, message = '考拉系统中没有该员工'): StaffMember {
  if (!member) throw new AppError('STAFF_NOT_FOUND', message);
  return member;
}
