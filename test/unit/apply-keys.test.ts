import { describe, expect, it } from 'vitest';
import { keyClaim, requestHash } from '../../src/modules/applications/idempotency.js';
import { CACHED_PAGES, pageKey } from '../../src/modules/applications/list.js';

describe('Idempotency-Key claims (pure)', () => {
  it('a body hashes the same whatever the order of its keys, at any depth', () => {
    const a = { name: '王五', phone: '13900000001', retinues: [{ name: '甲', phone: '13900000002' }] };
    const b = { retinues: [{ phone: '13900000002', name: '甲' }], phone: '13900000001', name: '王五' };
    expect(requestHash(a)).toBe(requestHash(b));
    expect(requestHash(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('another body, or the same people in another order, hashes differently', () => {
    const a = { name: '王五', retinues: [{ name: '甲' }, { name: '乙' }] };
    expect(requestHash({ ...a, remark: '' })).not.toBe(requestHash(a));
    expect(requestHash({ ...a, retinues: [{ name: '乙' }, { name: '甲' }] })).not.toBe(requestHash(a));
  });

  it('a claim only with a key; it names its caller', () => {
    expect(keyClaim('wx-1', undefined, { a: 1 })).toBeNull();
    expect(keyClaim('wx-1', 'k', { a: 1 })).toEqual({ owner: 'wx-1', key: 'k', requestHash: requestHash({ a: 1 }) });
  });
});

describe('pageKey: which list pages are kept (pure)', () => {
  it('the first pages, by list, filter, page and size', () => {
    expect(pageKey('involving', {}, { page: 1, size: 5 })).toBe('involving::1:5');
    expect(pageKey('proposed', { isAuth: 0 }, { page: CACHED_PAGES, size: 10 })).toBe('proposed:0:3:10');
    expect(pageKey('proposed', { isAuth: 1 }, { page: CACHED_PAGES + 1, size: 5 })).toBeNull();
  });
});
