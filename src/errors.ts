/**
 * The one error type of the service. Every failure a client can see is an AppError with a
 * code from the contract's catalogue (api-contract.md §6); `toHttp` is the only place that
 * turns it into a status and an envelope.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'SMS_CODE_INVALID'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_PROPOSER'
  | 'NOT_BOUND'
  | 'NOT_FOUND'
  | 'STAFF_NOT_FOUND'
  | 'CONFLICT'
  | 'PASS_INVALID'
  | 'PASS_NOT_YET_VALID'
  | 'PASS_EXPIRED'
  | 'RATE_LIMITED'
  | 'UPSTREAM_FAILED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'INTERNAL';

const STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  SMS_CODE_INVALID: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_PROPOSER: 403,
  NOT_BOUND: 403, // 404 on GET /v1/wechat/is_binding: passed as `status`
  NOT_FOUND: 404,
  STAFF_NOT_FOUND: 404,
  CONFLICT: 409,
  // Turnstile: the device is authenticated and the request well formed, but this pass
  // does not admit now — a refusal, like FORBIDDEN (docs/api-contract-frontdesk.md).
  PASS_INVALID: 403,
  PASS_NOT_YET_VALID: 403,
  PASS_EXPIRED: 403,
  RATE_LIMITED: 429,
  UPSTREAM_FAILED: 502,
  UPSTREAM_UNAVAILABLE: 503,
  INTERNAL: 500,
};

const DEFAULT_MESSAGE: Record<ErrorCode, string> = {
  VALIDATION_FAILED: '请求参数不正确',
  SMS_CODE_INVALID: '短信验证码错误或已过期',
  UNAUTHENTICATED: '请先登录',
  FORBIDDEN: '无权访问',
  NOT_PROPOSER: '申请人必须是被访人或访客本人',
  NOT_BOUND: '微信尚未绑定手机号',
  NOT_FOUND: '记录不存在',
  STAFF_NOT_FOUND: '未找到该员工',
  CONFLICT: '请求与当前状态冲突',
  PASS_INVALID: '无效的通行码',
  PASS_NOT_YET_VALID: '通行权限尚未生效',
  PASS_EXPIRED: '通行权限已过期',
  RATE_LIMITED: '请求过于频繁，请稍后再试',
  UPSTREAM_FAILED: '外部系统返回错误，请稍后再试',
  UPSTREAM_UNAVAILABLE: '外部系统暂时不可用，请稍后再试',
  INTERNAL: '服务器内部错误',
};

export interface AppErrorOptions {
  /** HTTP status when it differs from the code's usual one (NOT_BOUND → 404 on 3.6). */
  status?: number;
  /** Seconds, sent as Retry-After with 429. */
  retryAfter?: number;
  /** Detail for the logs only; never sent to the client. */
  detail?: string;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfter: number | undefined;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message?: string, options: AppErrorOptions = {}) {
    super(message ?? DEFAULT_MESSAGE[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? STATUS[code];
    this.retryAfter = options.retryAfter;
    this.detail = options.detail;
  }
}

export type UpstreamSystem = 'koala' | 'wechat-cloud' | 'wechat-oauth' | 'sms' | 'storage';

/**
 * A failure of an outside system. `transient` says whether trying again later may succeed
 * (no answer, 5xx, throttling); the notification worker retries exactly those. For an API
 * answer it maps like any AppError (502 / 503 / 429).
 */
export class UpstreamError extends AppError {
  readonly system: UpstreamSystem;
  readonly transient: boolean;
  /** The provider's own error code, when it gave one (Aliyun `Code`, Koala `code`, …). */
  readonly providerCode: string | undefined;

  constructor(
    system: UpstreamSystem,
    code: 'UPSTREAM_FAILED' | 'UPSTREAM_UNAVAILABLE' | 'RATE_LIMITED',
    detail: string,
    opts: { transient?: boolean; providerCode?: string; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(code, undefined, { detail: `${system}: ${detail}`, retryAfter: opts.retryAfter, cause: opts.cause });
    this.name = 'UpstreamError';
    this.system = system;
    this.transient = opts.transient ?? code !== 'UPSTREAM_FAILED';
    this.providerCode = opts.providerCode;
  }
}

export function errorStatus(code: ErrorCode): number {
  return STATUS[code];
}

export function defaultMessage(code: ErrorCode): string {
  return DEFAULT_MESSAGE[code];
}
