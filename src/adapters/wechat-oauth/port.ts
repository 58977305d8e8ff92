/**
 * WeChat web OAuth (snsapi_base): GET {WECHAT_API_URL}/sns/oauth2/access_token. An `errcode`
 * answer (bad, used or expired code) throws AppError('UNAUTHENTICATED'); no answer throws
 * UpstreamError UPSTREAM_UNAVAILABLE; HTTP errors UPSTREAM_FAILED.
 */
export interface WechatOAuthPort {
  exchangeCode(code: string): Promise<{ openid: string }>;
}
