import { api } from './api';
import type { VisitRecord } from './api-types';

/**
 * Every visit that involves the caller, whoever proposed it: the two lists of the contract
 * (§3.10 what I proposed, §3.9 what others proposed that names me) read side by side. Both are
 * newest first by creation, and a visit starts at most `maxDaysAhead` days after it was asked
 * for and lasts at most a day: once both lists are read past that horizon, every visit still
 * to come is in hand, and the page can put them first, soonest first.
 */
const SOURCES = ['/v1/auth/records', '/v1/visit/records'] as const;
const PAGE_SIZE = 50;

export class AllRecords {
  private readonly pages = SOURCES.map(() => ({ read: 0, done: false, oldest: Infinity }));
  private readonly byId = new Map<number, VisitRecord>();

  constructor(private readonly horizonSeconds: number) {}

  /** Whether every list is read to its end. */
  get finished(): boolean {
    return this.pages.every((p) => p.done);
  }

  /** Whether every visit still to come has been read (the lists are read past the horizon). */
  get upcomingComplete(): boolean {
    const cutoff = Date.now() / 1000 - this.horizonSeconds;
    return this.pages.every((p) => p.done || p.oldest < cutoff);
  }

  /** Reads the next page of every list not yet read to its end. */
  async readMore(): Promise<void> {
    await Promise.all(
      SOURCES.map(async (url, i) => {
        const p = this.pages[i]!;
        if (p.done) return;
        const answer = await api<VisitRecord[]>('GET', url, { query: { page: p.read + 1, size: PAGE_SIZE } });
        for (const r of answer.data) {
          this.byId.set(r.id, r);
          p.oldest = Math.min(p.oldest, r.created_at);
        }
        p.read = answer.page?.current ?? p.read + 1;
        p.done = answer.data.length === 0 || p.read >= (answer.page?.total ?? 0);
      }),
    );
  }

  replace(r: VisitRecord): void {
    this.byId.set(r.id, r);
  }

  /** Visits not yet over, soonest first; then the ones that are, latest first. */
  split(now = Date.now() / 1000): { upcoming: VisitRecord[]; past: VisitRecord[] } {
    const all = [...this.byId.values()];
    return {
      upcoming: all.filter((r) => r.end_time > now).sort((a, b) => a.start_time - b.start_time || a.id - b.id),
      past: all.filter((r) => r.end_time <= now).sort((a, b) => b.start_time - a.start_time || b.id - a.id),
    };
  }
}
