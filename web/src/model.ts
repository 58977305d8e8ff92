import { reactive } from 'vue';
import { api } from './api';
import { ApiError } from './errors';

/** GET /v1/wechat/is_binding (§3.6). */
export interface Me {
  type: 'employee' | 'visitor';
  name: string;
  department: string;
  subject_id: number;
  avatar: string;
  phone: string;
}

/** The record (§4). */
export interface VisitRecord {
  id: number;
  name: string;
  phone: string;
  purpose: number;
  purpose_name: string;
  come_from: string;
  remark: string;
  proposer: string;
  interviewee: string;
  interviewee_phone: string;
  start_time: number;
  end_time: number;
  is_auth: number;
  auth_time: number | null;
  created_at: number;
  retinues: Array<{ name: string; phone: string }>;
}

export interface H5Config {
  simulated: boolean;
  wechat_app_id: string;
  sms_required: boolean;
}

/** Who is signed in: loaded once per session, reloaded after bind / unbind / login. */
export const me = reactive<{ value: Me | null; bound: boolean | null }>({ value: null, bound: null });

export async function loadMe(force = false): Promise<Me | null> {
  if (!force && me.bound !== null) return me.value;
  try {
    me.value = (await api<Me>('GET', '/v1/wechat/is_binding')).data;
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
