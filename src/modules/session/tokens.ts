import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SessionClaims {
  /** WeChat openid (weixinUserId). */
  sub: string;
  /** Expiry, Unix seconds. */
  exp: number;
}

/**
 * Signed, self-contained session tokens: `v1.<payload>.<hmac>`. Stateless, so every replica
 * verifies them with the shared secret and nothing is stored per session.
 */
export interface SessionTokens {
  issue(weixinUserId: string, nowSeconds: number): { token: string; expiresAt: number };
  /** The claims of a valid, unexpired token; null for anything else. */
  verify(token: string, nowSeconds: number): SessionClaims | null;
}

export function createSessionTokens(secret: string, ttlSeconds: number): SessionTokens {
  const key = createHmac('sha256', secret).update('laifang/session/v1').digest();
  const sign = (payload: string) => createHmac('sha256', key).update(payload).digest('base64url');

  return {
    issue(weixinUserId, nowSeconds) {
      const claims: SessionClaims = { sub: weixinUserId, exp: nowSeconds + ttlSeconds };
      const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
      return { token: `v1.${payload}.${sign(payload)}`, expiresAt: claims.exp };
    },
    verify(token, nowSeconds) {
      const parts = token.split('.');
      if (parts.length !== 3 || parts[0] !== 'v1') return null;
      const [, payload = '', mac = ''] = parts;
      const expected = Buffer.from(sign(payload));
      const given = Buffer.from(mac);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      let claims: unknown;
      try {
        claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        return null;
      }
      if (!claims || typeof claims !== 'object') return null;
      const { sub, exp } = claims as Record<string, unknown>;
      if (typeof sub !== 'string' || sub === '' || typeof exp !== 'number' || exp <= nowSeconds) return null;
      return { sub, exp };
    },
  };
}
