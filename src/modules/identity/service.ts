import type { WechatBinding, WechatCloudPort } from '../../adapters/wechat-cloud/port.js';
import { AppError } from '../../errors.js';

export interface Identity {
  /** The caller's WeChat binding (null when not bound), as the cloud service tells it. */
  binding(weixinUserId: string): Promise<WechatBinding | null>;
  /** The caller's phone, from the binding only; 403 NOT_BOUND when the WeChat is not bound. */
  requirePhone(weixinUserId: string): Promise<string>;
  /** After a bind or unbind through this service. */
  remember(weixinUserId: string, binding: WechatBinding | null): void;
}

/**
 * Bindings belong to the cloud service; we ask it, and keep each answer for a few seconds so
 * one page load (several API calls) costs one lookup. Only this process's own bind/unbind can
 * make an entry wrong, and those update it at once.
 */
export function createIdentity(deps: { cloud: WechatCloudPort; now: () => number; ttlMs?: number; maxEntries?: number }): Identity {
  const ttlMs = deps.ttlMs ?? 10_000;
  const maxEntries = deps.maxEntries ?? 10_000;
  const cache = new Map<string, { binding: WechatBinding | null; until: number }>();
  const inflight = new Map<string, Promise<WechatBinding | null>>();

  const put = (id: string, binding: WechatBinding | null) => {
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(id, { binding, until: deps.now() + ttlMs });
  };

  async function binding(weixinUserId: string): Promise<WechatBinding | null> {
    const hit = cache.get(weixinUserId);
    if (hit && hit.until > deps.now()) return hit.binding;
    let pending = inflight.get(weixinUserId);
    if (!pending) {
      pending = deps.cloud.getBinding(weixinUserId).then(
        (b) => {
          put(weixinUserId, b);
          return b;
        },
      ).finally(() => inflight.delete(weixinUserId));
      inflight.set(weixinUserId, pending);
    }
    return pending;
  }

  return {
    binding,
    async requirePhone(weixinUserId) {
      const b = await binding(weixinUserId);
      if (!b) throw new AppError('NOT_BOUND', '请先绑定手机号');
      return b.phone;
    },
    remember(weixinUserId, b) {
      inflight.delete(weixinUserId);
      put(weixinUserId, b);
    },
  };
}
