import { callService, type Answer } from '../envelope';
import { ApiError } from '../errors';
import { clearSession, session } from './session';

export type { Answer, Page } from '../envelope';

/**
 * One admin call. Answers are the contract's envelope; a failure becomes an ApiError. A 401 on
 * an authenticated call means the token is gone (expired, password changed): back to login.
 */
export async function adminApi<T>(
  method: string,
  path: string,
  opts: { body?: unknown; query?: Record<string, string | number | undefined>; anonymous?: boolean } = {},
): Promise<Answer<T>> {
  const token = opts.anonymous ? undefined : session.value?.token;
  try {
    return await callService<T>(method, path, { body: opts.body, query: opts.query, dropEmptyQuery: true, token });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && !opts.anonymous) clearSession('登录已失效（过期或密码已修改），请重新登录');
    throw err;
  }
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

/**
 * A sentence for the admin; `overrides` words a code for one action. Validation adds the
 * server's detail, its field names given as the page's labels (`fields`: name → label).
 */
export function describe(err: unknown, overrides: Record<string, string> = {}, fields: Record<string, string> = {}): string {
  if (!(err instanceof ApiError)) return MESSAGES.INTERNAL ?? '';
  let text = overrides[err.code] ?? MESSAGES[err.code] ?? MESSAGES.INTERNAL ?? '';
  if (err.code === 'VALIDATION_FAILED' && !overrides[err.code] && err.serverMessage) {
    const said = err.serverMessage.replace(/字段\s*\/?([a-z_]+)\s*/g, (m, name: string) => (fields[name] ? `「${fields[name]}」` : m));
    text += `：${said}`;
  }
  if (err.code === 'RATE_LIMITED' && err.retryAfter) text += `（约 ${Math.ceil(err.retryAfter / 60)} 分钟后）`;
  return text;
}

/** A 400: what was sent must change; trying again as it is cannot help (no "重试"). */
export function isBadRequest(err: unknown): boolean {
  return err instanceof ApiError && err.status === 400;
}
