import { UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { HttpObserver } from '../http.js';
import { callCloud, CODE_NOT_BOUND, refused, SYSTEM, type Cloud } from './envelope.js';
import type { WechatBinding, WechatCloudPort, WechatMessage } from './port.js';

export interface WechatCloudClientOptions {
  /** Base URL of the cloud service, e.g. `https://wx-cloud.example.com` (no trailing /v2). */
  baseUrl: string;
  timeoutMs: number;
  logger: Logger;
  /** Told of every call (metrics). */
  observer?: HttpObserver;
}

/**
 * Client of the WeChat interface cloud service (api-contract.md §8): each call one request
 * through src/adapters/wechat-cloud/envelope.ts.
 */
export function createWechatCloudClient(opts: WechatCloudClientOptions): WechatCloudPort {
  const cloud: Cloud = { base: opts.baseUrl.replace(/\/+$/, ''), timeoutMs: opts.timeoutMs, log: opts.logger, observer: opts.observer };
  return {
    getBinding: (weixinUserId) => getBinding(cloud, weixinUserId),
    bind: (weixinUserId, phone) => bind(cloud, weixinUserId, phone),
    unbind: (weixinUserId) => unbind(cloud, weixinUserId),
    sendMessage: (message) => sendMessage(cloud, message),
  };
}

async function getBinding(cloud: Cloud, weixinUserId: string): Promise<WechatBinding | null> {
  const what = 'GET /v2/wechat/binding';
  const env = await callCloud(cloud, 'GET', `/v2/wechat/binding?${new URLSearchParams({ weixinUserId }).toString()}`, what);
  // code 404 is how the service says "no such binding" elsewhere (§8); read it the same way here.
  if (env.code === CODE_NOT_BOUND) return null;
  if (env.code !== 0) throw refused(what, env);
  return toBinding(cloud, weixinUserId, env.data);
}

async function bind(cloud: Cloud, weixinUserId: string, phone: string): Promise<WechatBinding> {
  const what = 'POST /v2/wechat/binding';
  // The service reads form fields only (§8); JSON would arrive as "missing parameters".
  const env = await callCloud(cloud, 'POST', '/v2/wechat/binding', what, {
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
    body: new URLSearchParams({ weixinUserId, phone }).toString(),
  });
  if (env.code !== 0) throw refused(what, env);
  const fromAnswer = toBinding(cloud, weixinUserId, env.data);
  if (fromAnswer) return fromAnswer;
  // Some deployments answer `data: {}` (or nothing): the binding (with nick/avatar) has to be read back.
  const read = await getBinding(cloud, weixinUserId);
  if (!read) throw new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `${what}: accepted, but the binding is not visible afterwards`, { transient: false });
  return read;
}

async function unbind(cloud: Cloud, weixinUserId: string): Promise<void> {
  const what = 'DELETE /v2/wechat/binding';
  const env = await callCloud(cloud, 'DELETE', `/v2/wechat/binding/${encodeURIComponent(weixinUserId)}`, what);
  // Unbinding what is not bound succeeds (port contract), whichever way the service says it.
  if (env.code !== 0 && env.code !== CODE_NOT_BOUND) throw refused(what, env);
}

async function sendMessage(cloud: Cloud, message: WechatMessage): Promise<'sent' | 'not_bound'> {
  const what = 'POST /v2/message';
  const env = await callCloud(cloud, 'POST', '/v2/message', what, {
    headers: { 'content-type': 'application/json' },
    // `data` travels as a JSON *string* inside the JSON body (§8), not as a nested object.
    body: JSON.stringify({ phone: message.phone, tplMessageId: message.tplMessageId, url: message.url, data: JSON.stringify(message.data) }),
  });
  if (env.code === 0) return 'sent';
  if (env.code === CODE_NOT_BOUND) return 'not_bound';
  throw refused(what, env);
}

/** `data` of a binding answer → a binding, or null for "not bound" (empty data, no phone, a phone we cannot use). */
function toBinding(cloud: Cloud, weixinUserId: string, data: unknown): WechatBinding | null {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return null;
  const d = data as Record<string, unknown>;
  const raw = typeof d.phone === 'string' ? d.phone : typeof d.phone === 'number' ? String(d.phone) : '';
  if (raw.trim() === '') return null;
  const phone = normalizePhone(raw);
  if (phone === null) {
    // The binding exists but its phone is not a mainland mobile number: nothing of ours can
    // use it (SMS, Koala lookup), so the caller sees "not bound" and may bind again.
    cloud.log.warn({ system: SYSTEM, weixinUserId, phone: redactOddPhone(raw) }, 'wechat binding has an unusable phone number; treated as not bound');
    return null;
  }
  return {
    weixinUserId: typeof d.weixinUserId === 'string' && d.weixinUserId !== '' ? d.weixinUserId : weixinUserId,
    phone,
    nick: typeof d.nick === 'string' ? d.nick : '',
    avatar: typeof d.avatar === 'string' ? d.avatar : '',
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
