/**
 * Aliyun refuses a notification template variable longer than this (`isv.PARAM_LENGTH_LIMIT`;
 * UTF-16 units, as its Java side counts), and a link in a variable (`isv.PARAM_NOT_SUPPORT_URL`):
 * a link is fixed text of the approved template, with at most a short code as its variable.
 */
export const SMS_VARIABLE_MAX = 35;

export interface SmsSendInput {
  /** 11 digits. */
  phone: string;
  /** Aliyun TemplateCode. */
  templateCode: string;
  /** Sent as TemplateParam (a JSON string). */
  params: Record<string, string>;
  /** Aliyun OutId: our notification id, so a delivery can be traced and de-duplicated. */
  outId?: string;
  /**
   * A verification code (3.0) rather than a notification: the SMS caps give codes at most a part
   * of the service's hourly budget, so code requests can never use up the notifications' share.
   */
  kind?: 'code';
}

/**
 * Aliyun SMS SendSms (2017-05-25) through the official SDK. A refusal comes back as HTTP 200
 * with Code ≠ "OK": throttling (`isv.BUSINESS_LIMIT_CONTROL`, `Throttling.*`) throws
 * UpstreamError('sms', 'RATE_LIMITED', transient), other refusals UPSTREAM_FAILED (permanent),
 * no answer / 5xx UPSTREAM_UNAVAILABLE (transient).
 */
export interface SmsPort {
  send(input: SmsSendInput): Promise<{ bizId: string }>;
  /**
   * QuerySendDetails: whether Aliyun accepted a message with this OutId for this phone on the
   * China day of `sentAt` (ms) — so a message whose outcome was lost (a timeout, a killed
   * process) is asked about instead of sent twice. Failures throw like `send`.
   */
  wasSent?(query: { phone: string; outId: string; sentAt: number }): Promise<boolean>;
}
