import { callService, type Answer } from './envelope';
import { ApiError } from './errors';
import { clearSession, loadSession } from './session';
import { navigate } from './router';

export type { Answer, Page } from './envelope';

/**
 * One call to the service. Answers are the contract's envelope (§1); a failure becomes an
 * ApiError. A 401 anywhere means the session is gone: back to the entry page.
 */
export async function api<T>(
  method: string,
  path: string,
  opts: { body?: unknown; query?: Record<string, string | number | undefined>; idempotencyKey?: string; anonymous?: boolean } = {},
): Promise<Answer<T>> {
  const session = opts.anonymous ? null : loadSession();
  try {
    return await callService<T>(method, path, {
      body: opts.body,
      query: opts.query,
      token: session?.token,
      headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined,
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && !opts.anonymous) {
      clearSession();
      navigate('/login', { expired: '1' }, true);
    }
    throw err;
  }
}

/** An Idempotency-Key (§3.7) for one fill of a form; works outside secure contexts too. */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
