import type { Page } from './api-types';
import { ApiError } from './errors';

export type { Page };

export interface Answer<T> {
  data: T;
  page?: Page;
}

export interface EnvelopeRequest {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Query values equal to '' are left out too (search forms); undefined ones always are. */
  dropEmptyQuery?: boolean;
  /** Bearer token, when the call is authenticated. */
  token?: string;
  headers?: Record<string, string>;
}

/**
 * One call to the service, shared by the phone pages and the admin console: the answer is the
 * contract's envelope (§1), a failure an ApiError (status 0: no answer). What a 401 means is the
 * caller's business.
 */
export async function callService<T>(method: string, path: string, opts: EnvelopeRequest = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let url = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) if (v !== undefined && !(opts.dropEmptyQuery && v === '')) q.set(k, String(v));
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
    const retry = Number(res.headers.get('retry-after'));
    throw new ApiError(res.status, code, body?.err_msg ?? '', Number.isFinite(retry) && retry > 0 ? retry : null);
  }
  return { data: body.data as T, ...(body.page ? { page: body.page } : {}) };
}
