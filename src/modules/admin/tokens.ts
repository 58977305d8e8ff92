import { createSignedClaims } from '../session/tokens.js';

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
  const signed = createSignedClaims(secret, 'laifang/admin/v1', ADMIN_TOKEN_PREFIX);
  return {
    issue(adminId, version, nowSeconds) {
      const claims: AdminClaims = { sub: adminId, ver: version, exp: nowSeconds + ttlSeconds };
      return { token: signed.seal(claims), expiresAt: claims.exp };
    },
    verify(token, nowSeconds) {
      const claims = signed.open(token);
      if (!claims) return null;
      const { sub, ver, exp } = claims;
      if (!Number.isSafeInteger(sub) || !Number.isSafeInteger(ver) || typeof exp !== 'number' || exp <= nowSeconds) return null;
      return { sub: sub as number, ver: ver as number, exp };
    },
  };
}
