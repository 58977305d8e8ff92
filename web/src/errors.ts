/**
 * Every error code of the contract (§6), in words a visitor understands. The server's own
 * `err_msg` is for developers and may name a field path; the pages show these instead.
 */
const MESSAGES: Record<string, string> = {
  VALIDATION_FAILED: '填写的信息格式不正确，请检查后再提交',
  SMS_CODE_INVALID: '验证码不正确，请核对短信里的 6 位数字后重新输入（验证码 5 分钟内有效，输错 5 次后需重新获取）',
  UNAUTHENTICATED: '登录已失效，请重新进入',
  FORBIDDEN: '只能操作您自己的信息',
  NOT_PROPOSER: '只能为自己申请来访，或以被访员工的身份邀请访客',
  NOT_BOUND: '您的微信还没有绑定手机号，请先绑定',
  NOT_FOUND: '没有找到这条记录，它可能不属于您',
  STAFF_NOT_FOUND: '公司员工名单里没有这位员工，请核对姓名和手机号',
  CONFLICT: '这条记录的状态已经变化，请刷新后再试',
  RATE_LIMITED: '操作太频繁了，请稍后再试',
  UPSTREAM_FAILED: '门禁、短信或微信系统暂时出错，请稍后再试',
  UPSTREAM_UNAVAILABLE: '门禁、短信或微信系统暂时连不上，请稍后再试',
  INTERNAL: '服务器出了点问题，请稍后再试',
  NETWORK: '网络连接失败，请检查网络后重试',
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The contract's machine code (`error`), or NETWORK when no answer came. */
    readonly code: string,
    readonly serverMessage: string,
    readonly retryAfter: number | null = null,
  ) {
    super(`${status} ${code}: ${serverMessage}`);
  }
}

/** A sentence for the person holding the phone. `overrides` words a code for one page. */
export function describeError(err: unknown, overrides: Record<string, string> = {}): string {
  if (!(err instanceof ApiError)) return MESSAGES.INTERNAL ?? '';
  let text = overrides[err.code] ?? MESSAGES[err.code] ?? MESSAGES.INTERNAL ?? '';
  if (err.code === 'RATE_LIMITED' && err.retryAfter) text += `（约 ${formatWait(err.retryAfter)}后）`;
  return text;
}

function formatWait(seconds: number): string {
  return seconds < 90 ? `${seconds} 秒` : seconds < 5400 ? `${Math.ceil(seconds / 60)} 分钟` : `${Math.ceil(seconds / 3600)} 小时`;
}
