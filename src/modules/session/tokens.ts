import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SessionClaims {
  /** WeChat openid (weixinUserId). */
  sub: string;
  /** Expiry, Unix seconds. */
  exp: number;
  /** Issued at, milliseconds on the database's clock (compared with revocations); 0 when absent. */
  iat: number;
}

/**
 * Signed, self-contained session tokens: `v1.<payload>.<hmac>`. Stateless, so every replica
 * verifies them with the shared secret and nothing is stored per session.
 */
export interface SessionTokens {
  /** `issuedAt`: ms on the database's clock (SessionRevocations.issuedAt); 0 for a token no revocation will spare. */
  issue(weixinUserId: string, nowSeconds: number, issuedAt?: number): { token: string; expiresAt: number };
  /** The claims of a valid, unexpired token; null for anything else. */
  verify(token: string, nowSeconds: number): SessionClaims | null;
}

/**
 * The signing both token kinds share: `<prefix><base64url(JSON claims)>.<HMAC>`, under a key
 * derived from the secret for one `purpose`, so tokens of one kind never verify as another.
 * `open` returns the claims object of a well-signed token (its fields still to be checked), or null.
 */
export function createSignedClaims(secret: string, purpose: string, prefix: string) {
  const key = createHmac('sha256', secret).update(purpose).digest();
  const sign = (payload: string) => createHmac('sha256', key).update(payload).digest('base64url');
  return {
    seal(claims: object): string {
      const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
      return `${prefix}${payload}.${sign(payload)}`;
    },
    open(token: string): Record<string, unknown> | null {
      if (!token.startsWith(prefix)) return null;
      const parts = token.slice(prefix.length).split('.');
      if (parts.length !== 2) return null;
      const [payload = '', mac = ''] = parts;
      const expected = Buffer.from(sign(payload));
      const given = Buffer.from(mac);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      let claims: unknown;
      try {
        claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        return null;
      }
      return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : null;
    },
  };
}

/** Tokens remembered as verified (a few MB at most). */
const VERIFIED_MAX = 10_000;

export function createSessionTokens(secret: string, ttlSeconds: number): SessionTokens {
  const signed = createSignedClaims(secret, 'laifang/session/v1', 'v1.');
  // A token verified once verifies again until it expires (revocations are checked apart, in
  // memory, by SessionRevocations), so the HMAC and the JSON are done once per token, not per
  // request (per request they cost 10 % of a cached records page's CPU). Only valid tokens are
  // remembered: garbage sent by anyone cannot fill the map. Oldest first out.
  const verified = new Map<string, SessionClaims>();
  return {
    issue(weixinUserId, nowSeconds, issuedAt = 0) {
      const claims: SessionClaims = { sub: weixinUserId, exp: nowSeconds + ttlSeconds, iat: issuedAt };
      return { token: signed.seal(claims), expiresAt: claims.exp };
    },
    verify(token, nowSeconds) {
      const known = verified.get(token);
      if (known) {
        if (known.exp > nowSeconds) return known;
        verified.delete(token);
        return null;
      }
      const claims = signed.open(token);
      if (!claims) return null;
      const { sub, exp, iat } = claims;
      if (typeof sub !== 'string' || sub === '' || typeof exp !== 'number' || exp <= nowSeconds) return null;
      const result: SessionClaims = Object.freeze({ sub, exp, iat: typeof iat === 'number' && Number.isFinite(iat) ? iat : 0 });
      if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
      verified.set(token, result);
      return result;
    },
  };
}
