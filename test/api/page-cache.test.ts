import { describe, expect, it } from 'vitest';
import { PageCache } from '../../src/modules/applications/page-cache.js';

// The page cache's own rules; the HTTP behaviour is in records-cache.test.ts.

function cache(opts: { maxBytes?: number; ttlMs?: number } = {}) {
  let now = 1_000_000;
  const c = new PageCache({ maxBytes: opts.maxBytes ?? 1 << 20, ttlMs: opts.ttlMs ?? 60_000, now: () => now });
  c.setEnabled(true);
  return { c, advance: (ms: number) => (now += ms) };
}

/** A load that finishes when told to. */
function deferred(body: string) {
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  return { load: async () => (await done, body), finish };
}

describe('PageCache', () => {
  it('keeps a page, and serves it without loading', async () => {
    const { c } = cache();
    let loads = 0;
    const load = async () => `page ${++loads}`;
    expect(await c.read('p', 'k', load)).toBe('page 1');
    expect(await c.read('p', 'k', load)).toBe('page 1');
    expect(await c.read('p', 'other', load)).toBe('page 2');
    expect(loads).toBe(2);
    expect(c.stats()).toMatchObject({ hits: 1, misses: 2, entries: 2 });
  });

  it('an invalidated phone loses every page; other phones keep theirs', async () => {
    const { c } = cache();
    await c.read('a', 'k1', async () => 'a1');
    await c.read('a', 'k2', async () => 'a2');
    await c.read('b', 'k1', async () => 'b1');
    c.onNotification('x,a,y');
    expect(await c.read('a', 'k1', async () => 'a1 new')).toBe('a1 new');
    expect(await c.read('a', 'k2', async () => 'a2 new')).toBe('a2 new');
    expect(await c.read('b', 'k1', async () => 'b1 new')).toBe('b1');
  });

  it('a page being read while its phone is invalidated is answered but not kept', async () => {
    const { c } = cache();
    const slow = deferred('before the write');
    const reading = c.read('a', 'k', slow.load);
    c.invalidate(['a']);
    slow.finish();
    expect(await reading).toBe('before the write');
    expect(await c.read('a', 'k', async () => 'after the write')).toBe('after the write');
  });

  it('a page being read across a reset ("*") or a lost listener is not kept', async () => {
    for (const interrupt of [(c: PageCache) => c.onNotification('*'), (c: PageCache) => (c.setEnabled(false), c.setEnabled(true))]) {
      const { c } = cache();
      const slow = deferred('old');
      const reading = c.read('a', 'k', slow.load);
      interrupt(c);
      slow.finish();
      await reading;
      expect(await c.read('a', 'k', async () => 'new')).toBe('new');
    }
  });

  it('while the listener is down nothing is served or kept', async () => {
    const { c } = cache();
    await c.read('a', 'k', async () => 'kept');
    c.setEnabled(false);
    expect(await c.read('a', 'k', async () => 'db 1')).toBe('db 1');
    expect(await c.read('a', 'k', async () => 'db 2')).toBe('db 2');
    expect(c.stats().entries).toBe(0);
    c.setEnabled(true);
    expect(await c.read('a', 'k', async () => 'db 3')).toBe('db 3');
    expect(await c.read('a', 'k', async () => 'db 4')).toBe('db 3');
  });

  it('expires pages after ttlMs', async () => {
    const { c, advance } = cache({ ttlMs: 1000 });
    await c.read('a', 'k', async () => 'one');
    advance(999);
    expect(await c.read('a', 'k', async () => 'two')).toBe('one');
    advance(2);
    expect(await c.read('a', 'k', async () => 'two')).toBe('two');
  });

  it('stays within maxBytes, dropping the least recently used phone first', async () => {
    const body = 'x'.repeat(1000);
    const { c } = cache({ maxBytes: 20_000 });
    for (let i = 0; i < 50; i++) await c.read(`p${i}`, 'k', async () => body);
    expect(c.stats().bytes).toBeLessThanOrEqual(20_000);
    expect(c.stats().entries).toBeLessThan(50);
    // p49 was used last and is kept; p0 went first.
    expect(await c.read('p49', 'k', async () => 'reloaded')).toBe(body);
    expect(await c.read('p0', 'k', async () => 'reloaded')).toBe('reloaded');
    // A page larger than an eighth of the budget is never kept.
    await c.read('big', 'k', async () => 'y'.repeat(5000));
    expect(await c.read('big', 'k', async () => 'again')).toBe('again');
  });

  it('maxBytes 0: off', async () => {
    const c = new PageCache({ maxBytes: 0, ttlMs: 1000, now: Date.now });
    c.setEnabled(true);
    await c.read('a', 'k', async () => 'one');
    expect(await c.read('a', 'k', async () => 'two')).toBe('two');
  });
});
