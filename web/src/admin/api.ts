import { ApiError } from '../errors';
import { clearSession, session } from './session';

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
 * One admin call. Answers are the contract's envelope; a failure becomes an ApiError. A 401 on
 * an authenticated call means the token is gone (expired, password changed): back to login.
 */
export async function adminApi<T>(method: string, path: string, opts: { body?: unknown; query?: Record<string, string | number | undefined>; anonymous?: boolean } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (session.value && !opts.anonymous) headers.authorization = `Bearer ${session.value.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let url = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) if (v !== undefined && v !== '') q.set(k, String(v));
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
    if (res.status === 401 && !opts.anonymous) clearSession('登录已失效（过期或密码已修改），请重新登录');
    const retry = Number(res.headers.get('retry-after'));
    throw new ApiError(res.status, code, body?.err_msg ?? '', Number.isFinite(retry) && retry > 0 ? retry : null);
  }
  return { data: body.data as T, ...(body.page ? { page: body.page } : {}) };
}

const MESSAGES: Record<string, string> = {
  VALIDATION_FAILED: '填写的内容格式不正确',
  UNAUTHENTICATED: '登录已失效，请重新登录',
  FORBIDDEN: '没有权限进行此操作',
  NOT_FOUND: '没有找到这条记录，它可能已被删除',
  CONFLICT: '记录的状态已经变化，请刷新后再试',
  RATE_LIMITED: '操作太频繁了，请稍后再试',
  UPSTREAM_FAILED: '门禁、短信或微信系统暂时出错，请稍后再试',
  UPSTREAM_UNAVAILABLE: '门禁、短信或微信系统暂时连不上，请稍后再试',
  INTERNAL: '服务器出了点问题，请稍后再试',
  NETWORK: '网络连接失败，请检查网络后重试',
};

/** A sentence for the admin; `overrides` words a code for one action. Validation adds the server's detail. */
export function describe(err: unknown, overrides: Record<string, string> = {}): string {
  if (!(err instanceof ApiError)) return MESSAGES.INTERNAL ?? '';
  let text = overrides[err.code] ?? MESSAGES[err.code] ?? MESSAGES.INTERNAL ?? '';
  if (err.code === 'VALIDATION_FAILED' && !overrides[err.code] && err.serverMessage) text += `：${err.serverMessage}`;
  if (err.code === 'RATE_LIMITED' && err.retryAfter) text += `（约 ${Math.ceil(err.retryAfter / 60)} 分钟后）`;
  return text;
}

const pad = (n: number) => String(n).padStart(2, '0');
export function fmt(unix: number | null | undefined): string {
  if (unix === null || unix === undefined) return '—';
  const d = new Date(unix * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
