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
 * Bindings belong to the cloud service; we ask it, and keep a binding for a couple of seconds so
 * one page load (several API calls) costs one lookup. Bindings also change elsewhere (the cloud
 * service's own pages, another replica of this service), so the cache stays short, and "not
 * bound" is never kept: the usual next step is a binding, which must be seen at once. This
 * process's own bind/unbind update the entry immediately.
 */
export function createIdentity(deps: { cloud: WechatCloudPort; now: () => number; ttlMs?: number; maxEntries?: number }): Identity {
  const ttlMs = deps.ttlMs ?? 2_000;
  const maxEntries = deps.maxEntries ?? 10_000;
  const cache = new Map<string, { binding: WechatBinding | null; until: number }>();
  const inflight = new Map<string, Promise<WechatBinding | null>>();
  // A lookup that was under way when this process bound or unbound must not overwrite that.
  let seq = 0;
  const changedAt = new Map<string, number>();

  const put = (id: string, binding: WechatBinding | null) => {
    if (!binding) {
      cache.delete(id);
      return;
    }
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(id, { binding, until: deps.now() + ttlMs });
  };

  async function binding(weixinUserId: string): Promise<WechatBinding | null> {
    const hit = cache.get(weixinUserId);
    if (hit && hit.until > deps.now()) return hit.binding;
    let pending = inflight.get(weixinUserId);
    if (!pending) {
      const started = ++seq;
      const lookup: Promise<WechatBinding | null> = deps.cloud
        .getBinding(weixinUserId)
        .then((b) => {
          if ((changedAt.get(weixinUserId) ?? 0) < started) put(weixinUserId, b);
          return b;
        })
        .finally(() => {
          if (inflight.get(weixinUserId) === lookup) inflight.delete(weixinUserId);
        });
      pending = lookup;
      inflight.set(weixinUserId, lookup);
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
      if (changedAt.size >= maxEntries && !changedAt.has(weixinUserId)) changedAt.delete(changedAt.keys().next().value as string);
      changedAt.set(weixinUserId, ++seq);
      put(weixinUserId, b);
    },
  };
}
