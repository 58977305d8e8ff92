import type { Session } from './api-types';

/** The session token from POST /v1/session(/dev), kept in localStorage across visits. */
export type StoredSession = Session;

const KEY = 'laifang.session';

export function loadSession(): StoredSession | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? 'null') as StoredSession | null;
    if (!s || typeof s.token !== 'string' || s.expires_at * 1000 <= Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

export function saveSession(s: StoredSession): void {
  localStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession(): void {
  localStorage.removeItem(KEY);
}
