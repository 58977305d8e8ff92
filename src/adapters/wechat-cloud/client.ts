import { UpstreamError } from '../../errors.js';
import { maskPhone, type Logger } from '../../log.js';
import { httpCall, parseJson, statusError } from '../http.js';
import type { WechatBinding, WechatCloudPort, WechatMessage } from './port.js';

export interface WechatCloudClientOptions {
  /** Base URL of the cloud service, e.g. `https://wx-cloud.example.com` (no trailing /v2). */
  baseUrl: string;
  timeoutMs: number;
  logger: Logger;
}

interface Envelope {
  code: number;
  errMsg: string;
  data: unknown;
}

const SYSTEM = 'wechat-cloud';

/** The service's "this phone has no WeChat binding" answer to POST /v2/message (api-contract §8). */
const CODE_NOT_BOUND = 404;

/**
 * Client of the WeChat interface cloud service (api-contract.md §8). Every call goes through
 * httpCall, so no answer / refused / reset is UPSTREAM_UNAVAILABLE (transient) and HTTP
 * statuses map through statusError; an error `code` in an HTTP 200 envelope is permanent.
 */
export function createWechatCloudClient(opts: WechatCloudClientOptions): WechatCloudPort {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const log = opts.logger;

  async function call(method: string, path: string, what: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Envelope> {
    const res = await httpCall(SYSTEM, `${base}${path}`, { method, timeoutMs: opts.timeoutMs, headers: init.headers, body: init.body });
    if (res.status < 200 || res.status > 299) throw statusError(SYSTEM, res.status, what);
    // An answer that is not the protocol (a gateway's maintenance page, HTML, another service's
    // JSON) is no verdict on the request: still UPSTREAM_FAILED for a page, but transient, so a
    // queued message is tried again instead of being dropped.
    let json: unknown;
    try {
      json = parseJson(SYSTEM, res.text, what);
    } catch (err) {
      throw err instanceof UpstreamError
        ? new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', err.detail?.replace(/^wechat-cloud: /, '') ?? what, { transient: true })
        : err;
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `${what}: answer is not an envelope`, { transient: true });
    }
    const env = json as Record<string, unknown>;
    // Some deployments send the code as a string ("0"); a missing code is not an answer we understand.
    const code = typeof env.code === 'number' ? env.code : typeof env.code === 'string' && env.code.trim() !== '' ? Number(env.code) : NaN;
    if (!Number.isFinite(code)) throw new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `${what}: envelope without a numeric code`, { transient: true });
    return { code, errMsg: typeof env.err_msg === 'string' ? env.err_msg : '', data: env.data };
  }

  function refused(what: string, env: Envelope): UpstreamError {
    return new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `${what}: code ${env.code} ${maskPhone(env.errMsg)}`, {
      transient: false,
      providerCode: String(env.code),
    });
  }

  /** `data` of a binding answer → a binding, or null for "not bound" (empty data, no phone, a phone we cannot use). */
  function toBinding(weixinUserId: string, data: unknown): WechatBinding | null {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) return null;
    const d = data as Record<string, unknown>;
    const raw = typeof d.phone === 'string' ? d.phone : typeof d.phone === 'number' ? String(d.phone) : '';
    if (raw.trim() === '') return null;
    const phone = normalizePhone(raw);
    if (phone === null) {
      // The binding exists but its phone is not a mainland mobile number: nothing of ours can
      // use it (SMS, Koala lookup), so the caller sees "not bound" and may bind again.
      log.warn({ system: SYSTEM, weixinUserId, phone: redactOddPhone(raw) }, 'wechat binding has an unusable phone number; treated as not bound');
      return null;
    }
    return {
      weixinUserId: typeof d.weixinUserId === 'string' && d.weixinUserId !== '' ? d.weixinUserId : weixinUserId,
      phone,
      nick: typeof d.nick === 'string' ? d.nick : '',
      avatar: typeof d.avatar === 'string' ? d.avatar : '',
    };
  }

  async function getBinding(weixinUserId: string): Promise<WechatBinding | null> {
    const what = 'GET /v2/wechat/binding';
    const env = await call('GET', `/v2/wechat/binding?${new URLSearchParams({ weixinUserId }).toString()}`, what);
    // code 404 is how the service says "no such binding" elsewhere (§8); read it the same way here.
    if (env.code === CODE_NOT_BOUND) return null;
    if (env.code !== 0) throw refused(what, env);
    return toBinding(weixinUserId, env.data);
  }

  return {
    getBinding,

    async bind(weixinUserId, phone) {
      const what = 'POST /v2/wechat/binding';
      // The service reads form fields only (§8); JSON would arrive as "missing parameters".
      const env = await call('POST', '/v2/wechat/binding', what, {
        headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
        body: new URLSearchParams({ weixinUserId, phone }).toString(),
      });
      if (env.code !== 0) throw refused(what, env);
      const fromAnswer = toBinding(weixinUserId, env.data);
      if (fromAnswer) return fromAnswer;
      // Older deployments answer `data: {}` (or nothing): the binding (with nick/avatar) has to be read back.
      const read = await getBinding(weixinUserId);
      if (!read) throw new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `${what}: accepted, but the binding is not visible afterwards`, { transient: false });
      return read;
    },

    async unbind(weixinUserId) {
      const what = 'DELETE /v2/wechat/binding';
      const env = await call('DELETE', `/v2/wechat/binding/${encodeURIComponent(weixinUserId)}`, what);
      // Unbinding what is not bound succeeds (port contract), whichever way the service says it.
      if (env.code !== 0 && env.code !== CODE_NOT_BOUND) throw refused(what, env);
    },

    async sendMessage(message: WechatMessage) {
      const what = 'POST /v2/message';
      const env = await call('POST', '/v2/message', what, {
        headers: { 'content-type': 'application/json' },
        // `data` travels as a JSON *string* inside the JSON body (§8), not as a nested object.
        body: JSON.stringify({ phone: message.phone, tplMessageId: message.tplMessageId, url: message.url, data: JSON.stringify(message.data) }),
      });
      if (env.code === 0) return 'sent';
      if (env.code === CODE_NOT_BOUND) return 'not_bound';
      throw refused(what, env);
    },
  };
}

/** Contract §1: strip spaces, dashes and a +86 / 0086 / 86 prefix, then require ^1[3-9]\d{9}$. */
function normalizePhone(raw: string): string | null {
  let p = raw.replace(/[\s-]/g, '');
  if (p.startsWith('+86')) p = p.slice(3);
  else if (p.startsWith('0086')) p = p.slice(4);
  else if (p.startsWith('86') && p.length === 13) p = p.slice(2);
  return /^1[3-9]\d{9}$/.test(p) ? p : null;
}

/** maskPhone only recognises valid mobile numbers; an odd one is still personal data. */
function redactOddPhone(raw: string): string {
  const t = raw.trim();
  return t.length > 6 ? `${t.slice(0, 3)}****${t.slice(-2)}` : '****';
}
