export interface WechatBinding {
  weixinUserId: string;
  /** 11 digits. */
  phone: string;
  nick: string;
  avatar: string;
}

export interface WechatMessage {
  phone: string;
  tplMessageId: string;
  url: string;
  /** Template fields; sent on the wire as a JSON *string* in `data`. */
  data: Record<string, string>;
}

/**
 * The company's WeChat interface cloud service (api-contract.md §8). It owns WeChat ↔ phone
 * bindings and sends template messages. Failures throw UpstreamError; `transient` is true for
 * no answer / HTTP 5xx, false for HTTP 4xx or an error `code`.
 */
export interface WechatCloudPort {
  /** GET /v2/wechat/binding?weixinUserId= ; null when not bound. */
  getBinding(weixinUserId: string): Promise<WechatBinding | null>;
  /** POST /v2/wechat/binding (form-encoded weixinUserId, phone). Returns the binding as the service then reports it. */
  bind(weixinUserId: string, phone: string): Promise<WechatBinding>;
  /** DELETE /v2/wechat/binding/{weixinUserId}; unbinding what is not bound succeeds. */
  unbind(weixinUserId: string): Promise<void>;
  /** POST /v2/message. 'not_bound' when the service answers code 404 (skip, do not retry). */
  sendMessage(message: WechatMessage): Promise<'sent' | 'not_bound'>;
}
