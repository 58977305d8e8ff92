import { reactive } from 'vue';
import { api } from './api';
import type { H5Config, WhoAmI } from './api-types';
import { ApiError } from './errors';

/** Who is signed in: loaded once per session, reloaded after bind / unbind / login. */
export const me = reactive<{ value: WhoAmI | null; bound: boolean | null }>({ value: null, bound: null });

export async function loadMe(force = false): Promise<WhoAmI | null> {
  if (!force && me.bound !== null) return me.value;
  try {
    me.value = (await api<WhoAmI>('GET', '/v1/wechat/is_binding')).data;
    me.bound = true;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'NOT_BOUND') {
      me.value = null;
      me.bound = false;
    } else throw err;
  }
  return me.value;
}

export function forgetMe(): void {
  me.value = null;
  me.bound = null;
}

let config: Promise<H5Config> | null = null;
export function loadConfig(): Promise<H5Config> {
  config ??= api<H5Config>('GET', '/v1/h5/config', { anonymous: true }).then((a) => a.data);
  config.catch(() => (config = null));
  return config;
}
