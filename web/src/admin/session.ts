import { ref } from 'vue';
import type { AdminSession } from '../api-types';

/** The admin token from POST /v1/admin/session, kept for this tab only (sessionStorage). */
export type { AdminSession };

const KEY = 'laifang.admin';

function read(): AdminSession | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as AdminSession | null;
    if (!s || typeof s.token !== 'string' || s.expires_at * 1000 <= Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

export const session = ref<AdminSession | null>(read());
/** Why the login page is shown again (a 401 elsewhere). */
export const loginNotice = ref('');

export function saveSession(s: AdminSession): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
  session.value = s;
  loginNotice.value = '';
}

export function clearSession(notice = ''): void {
  sessionStorage.removeItem(KEY);
  session.value = null;
  loginNotice.value = notice;
}
