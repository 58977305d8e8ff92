/**
 * Answers of the two record lists (3.9, 3.10), kept per phone as the serialized envelope, so a
 * page that has not changed costs no database round trip and no serialisation.
 *
 * Correctness rests on invalidation, not on expiry:
 * - the database tells every replica which phones' records changed: triggers on `applications`
 *   and `application_people` NOTIFY `laifang_records` with the phones (or `*` for "all") in the
 *   writing transaction, so every write path is covered, including ones written later, admin
 *   deletions, retention and erasure (the triggers of migration 0003_records_notify);
 * - a write made by this process also invalidates at once after its commit, so the caller's next
 *   page on the same replica shows it whatever the notification's delay;
 * - a page read while its phone was invalidated is answered but not kept (it may predate the
 *   write), and so is one read across a reset;
 * - while the listening connection is down nothing is kept or served: changes made meanwhile
 *   would go unseen. Back up, the cache starts empty.
 * Expiry (`ttlMs`) only bounds what an unforeseen path (SQL run by hand with triggers disabled)
 * could leave stale. Memory is bounded by `maxBytes` (least recently used phones go first).
 */
export const RECORDS_CHANNEL = 'laifang_records';

export interface PageCacheOptions {
  maxBytes: number;
  ttlMs: number;
  now: () => number;
}

export interface PageCacheStats {
  hits: number;
  misses: number;
  stored: number;
  invalidations: number;
  resets: number;
  entries: number;
  bytes: number;
  enabled: boolean;
}

interface Entry {
  body: string;
  bytes: number;
  until: number;
}

interface Reading {
  n: number;
  stale: boolean;
}

/** A V8 string of CJK text takes two bytes a character; plus the map entries around it. */
const sizeOf = (key: string, body: string) => 2 * (key.length + body.length) + 96;

export class PageCache {
  private readonly phones = new Map<string, Map<string, Entry>>();
  private readonly reading = new Map<string, Reading>();
  private bytes = 0;
  private epoch = 0;
  private enabled = false;
  private readonly counts = { hits: 0, misses: 0, stored: 0, invalidations: 0, resets: 0 };

  constructor(private readonly opts: PageCacheOptions) {}

  /** The page of `phone` under `key`: kept, or loaded (and kept when nothing changed meanwhile). */
  async read(phone: string, key: string, load: () => Promise<string>): Promise<string> {
    if (this.opts.maxBytes <= 0) return load();
    const hit = this.lookup(phone, key);
    if (hit !== undefined) {
      this.counts.hits++;
      return hit;
    }
    this.counts.misses++;
    if (!this.enabled) return load();
    const epoch = this.epoch;
    let r = this.reading.get(phone);
    if (!r) {
      r = { n: 0, stale: false };
      this.reading.set(phone, r);
    }
    r.n++;
    try {
      const body = await load();
      if (!r.stale && epoch === this.epoch && this.enabled) this.store(phone, key, body);
      return body;
    } finally {
      if (--r.n === 0 && this.reading.get(phone) === r) this.reading.delete(phone);
    }
  }

  /** These phones' records changed (or may have): drop their pages, and do not keep pages being read. */
  invalidate(phones: Iterable<string>): void {
    for (const phone of phones) {
      if (phone === '') continue;
      this.counts.invalidations++;
      this.drop(phone);
      const r = this.reading.get(phone);
      if (r) r.stale = true;
    }
  }

  /** Anything may have changed: drop everything, and keep nothing read before now. */
  reset(): void {
    this.counts.resets++;
    this.epoch++;
    this.phones.clear();
    this.bytes = 0;
  }

  /** Whether invalidations are being received; off: nothing is served from or kept in the cache. */
  setEnabled(on: boolean): void {
    this.reset();
    this.enabled = on;
  }

  /** A notification's payload: phones separated by commas, or `*`. */
  onNotification(payload: string): void {
    if (payload === '*') this.reset();
    else this.invalidate(payload.split(','));
  }

  stats(): PageCacheStats {
    let entries = 0;
    for (const m of this.phones.values()) entries += m.size;
    return { ...this.counts, entries, bytes: this.bytes, enabled: this.enabled };
  }

  private lookup(phone: string, key: string): string | undefined {
    if (!this.enabled) return undefined;
    const pages = this.phones.get(phone);
    const entry = pages?.get(key);
    if (!pages || !entry) return undefined;
    if (entry.until <= this.opts.now()) {
      pages.delete(key);
      this.bytes -= entry.bytes;
      if (pages.size === 0) this.phones.delete(phone);
      return undefined;
    }
    // Most recently used phone last: eviction takes the first.
    this.phones.delete(phone);
    this.phones.set(phone, pages);
    return entry.body;
  }

  private store(phone: string, key: string, body: string): void {
    const bytes = sizeOf(key, body);
    if (bytes > this.opts.maxBytes / 8) return;
    let pages = this.phones.get(phone);
    if (pages) this.phones.delete(phone);
    else pages = new Map();
    this.phones.set(phone, pages);
    const old = pages.get(key);
    if (old) this.bytes -= old.bytes;
    pages.set(key, { body, bytes, until: this.opts.now() + this.opts.ttlMs });
    this.bytes += bytes;
    this.counts.stored++;
    while (this.bytes > this.opts.maxBytes) {
      const oldest = this.phones.keys().next().value as string;
      this.drop(oldest);
    }
  }

  private drop(phone: string): void {
    const pages = this.phones.get(phone);
    if (!pages) return;
    for (const e of pages.values()) this.bytes -= e.bytes;
    this.phones.delete(phone);
  }
}
