import { randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The OAuth `state` that ties a code to the browser that went to WeChat for it (login CSRF):
 * a random nonce, kept in an httpOnly SameSite cookie before the page goes to WeChat and sent
 * back by WeChat in the address, unchanged. An exchange whose state is not this browser's
 * cookie is refused, so a code someone else obtained (a link they sent) signs nobody in here.
 * WeChat takes [A-Za-z0-9]{0,128} as state: 32 hex digits (128 random bits).
 */
export const OAUTH_STATE_COOKIE = 'laifang_oauth_state';
/** The round trip through WeChat takes seconds; the cookie lasts 10 minutes. */
const MAX_AGE_SECONDS = 600;
/** Sent only to the session routes. */
const PATH = '/v1/session';

export function newOAuthState(): string {
  return randomBytes(16).toString('hex');
}

/** Set-Cookie for a new state; `Secure` when the page was reached over HTTPS. */
export function stateCookie(state: string, secure: boolean): string {
  return `${OAUTH_STATE_COOKIE}=${state}; Path=${PATH}; Max-Age=${MAX_AGE_SECONDS}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** Set-Cookie that removes the state (a state is spent by the exchange it guarded). */
export function clearedStateCookie(secure: boolean): string {
  return `${OAUTH_STATE_COOKIE}=; Path=${PATH}; Max-Age=0; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** The state cookie of a `Cookie` header, or '' when there is none. */
export function stateFromCookies(header: string | undefined): string {
  if (!header) return '';
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === OAUTH_STATE_COOKIE) return part.slice(eq + 1).trim();
  }
  return '';
}

/** True when the state WeChat sent back is the one this browser's cookie holds (compared in constant time). */
export function stateMatches(returned: string, kept: string): boolean {
  if (!/^[0-9a-f]{32}$/.test(kept)) return false;
  const a = Buffer.from(returned);
  const b = Buffer.from(kept);
  return a.length === b.length && timingSafeEqual(a, b);
}
