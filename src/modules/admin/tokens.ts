import { createHmac, timingSafeEqual } from 'node:crypto';

export interface AdminClaims {
  /** Admin id. */
  sub: number;
  /** The admin's session_version when the token was issued (a password change bumps it). */
  ver: number;
  exp: number;
}

/**
 * Admin tokens: `adm1.<payload>.<hmac>`, signed with a key derived for admins only. A phone
 * session token (`v1.` with the session key) never verifies here, nor the reverse: different
 * prefix and different key.
 */
export interface AdminTokens {
  issue(adminId: number, version: number, nowSeconds: number): { token: string; expiresAt: number };
  verify(token: string, nowSeconds: number): AdminClaims | null;
}

export const ADMIN_TOKEN_PREFIX = 'adm1.';

export function createAdminTokens(secret: string, ttlSeconds: number): AdminTokens {
  const key = createHmac('sha256', secret).update('laifang/admin/v1').digest();
  const sign = (payload: string) => createHmac('sha256', key).update(payload).digest('base64url');
  return {
    issue(adminId, version, nowSeconds) {
      const claims: AdminClaims = { sub: adminId, ver: version, exp: nowSeconds + ttlSeconds };
      const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
      return { token: `${ADMIN_TOKEN_PREFIX}${payload}.${sign(payload)}`, expiresAt: claims.exp };
    },
    verify(token, nowSeconds) {
      if (!token.startsWith(ADMIN_TOKEN_PREFIX)) return null;
      const parts = token.slice(ADMIN_TOKEN_PREFIX.length).split('.');
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
      if (!claims || typeof claims !== 'object') return null;
      const { sub, ver, exp } = claims as Record<string, unknown>;
      if (!Number.isSafeInteger(sub) || !Number.isSafeInteger(ver) || typeof exp !== 'number' || exp <= nowSeconds) return null;
      return { sub: sub as number, ver: ver as number, exp };
    },
  };
}
