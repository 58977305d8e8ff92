import { ApiError } from './errors';
import { clearSession, loadSession } from './session';
import { navigate } from './router';

export interface Page {
  count: number;
  current: number;
  size: number;
  total: number;
}

export interface Answer<T> {
  data: T;
  page?: Page;
}

/**
 * One call to the service. Answers are the contract's envelope (§1); a failure becomes an
 * ApiError. A 401 anywhere means the session is gone: back to the entry page.
 */
export async function api<T>(method: string, path: string, opts: { body?: unknown; query?: Record<string, string | number | undefined>; idempotencyKey?: string; anonymous?: boolean } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const session = loadSession();
  if (session && !opts.anonymous) headers.authorization = `Bearer ${session.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  let url = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) if (v !== undefined) q.set(k, String(v));
    const s = q.toString();
    if (s) url += `?${s}`;
  }
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  } catch {
    throw new ApiError(0, 'NETWORK', 'fetch failed');
  }
  type Envelope = { code?: number; err_msg?: string; error?: string; data?: T; page?: Page };
  let body: Envelope | null = null;
  try {
    body = (await res.json()) as Envelope;
  } catch {
    body = null;
  }
  if (!res.ok || !body || body.code !== 0) {
    const code = body?.error ?? (res.status >= 500 ? 'INTERNAL' : 'NETWORK');
    if (res.status === 401 && !opts.anonymous) {
      clearSession();
      navigate('/login', { expired: '1' }, true);
    }
    const retry = Number(res.headers.get('retry-after'));
    throw new ApiError(res.status, code, body?.err_msg ?? '', Number.isFinite(retry) && retry > 0 ? retry : null);
  }
  return { data: body.data as T, ...(body.page ? { page: body.page } : {}) };
}

/** An Idempotency-Key (§3.7) for one fill of a form; works outside secure contexts too. */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
