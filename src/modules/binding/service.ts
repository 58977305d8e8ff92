import type { WechatCloudPort } from '../../adapters/wechat-cloud/port.js';
import { AppError } from '../../errors.js';
import { phoneField } from '../../phone.js';
import type { Identity } from '../identity/service.js';
import type { SessionEnder } from '../session/service.js';
import type { SmsCodes } from '../sms-codes/service.js';
import type { Avatars } from '../staff/avatars.js';
import { mustBeStaff, type StaffDirectory, type StaffMember } from '../staff/directory.js';

export interface StaffProfile {
  subject_id: number;
  name: string;
  department: string;
  avatar: string;
  phone: string;
}

export interface VisitorProfile {
  nick: string;
  avatar: string;
  phone: string;
}

export type WhoAmI = { type: 'employee' | 'visitor'; name: string; department: string; subject_id: number; avatar: string; phone: string };

export interface Bindings {
  staffStatus(weixinUserId: string): Promise<StaffProfile | null>;
  bindStaff(weixinUserId: string, input: { name: string; phone: string; sms_code?: string }): Promise<StaffProfile>;
  visitorStatus(weixinUserId: string): Promise<VisitorProfile | null>;
  bindVisitor(weixinUserId: string, input: { phone: string; sms_code?: string }): Promise<VisitorProfile>;
  unbind(weixinUserId: string): Promise<void>;
  whoAmI(weixinUserId: string): Promise<WhoAmI>;
}

export interface BindingsDeps {
  cloud: WechatCloudPort;
  identity: Identity;
  staff: StaffDirectory;
  avatars: Avatars;
  smsCodes: SmsCodes;
  /** Unbinding ends every session of the WeChat user. */
  sessions: SessionEnder;
  /** Binding needs the SMS code sent to the phone (§3.0). */
  verifyPhone: boolean;
}

/** 3.1–3.6: the caller's WeChat binding, as staff or as a visitor. */
export function createBindings(deps: BindingsDeps): Bindings {
  const { identity, staff } = deps;
  return {
    async staffStatus(weixinUserId) {
      const binding = await identity.binding(weixinUserId);
      if (!binding) return null;
      return profile(deps, mustBeStaff(await staff.findByPhone(binding.phone), '该微信绑定的手机号不是考拉系统中的员工'));
    },

    bindStaff: (weixinUserId, input) => bindStaff(deps, weixinUserId, input),

    async visitorStatus(weixinUserId) {
      const binding = await identity.binding(weixinUserId);
      return binding ? { nick: binding.nick, avatar: binding.avatar, phone: binding.phone } : null;
    },

    async bindVisitor(weixinUserId, input) {
      const phone = phoneField('phone', input.phone);
      const binding = await withCode(deps, weixinUserId, phone, input.sms_code, () => bind(deps, weixinUserId, phone));
      return { nick: binding.nick, avatar: binding.avatar, phone: binding.phone };
    },

    // Every session of this WeChat ends with its binding (whoever else holds one, on any
    // device); the caller signs in again. Unbinding again, when ending them failed, ends them.
    async unbind(weixinUserId) {
      await deps.cloud.unbind(weixinUserId);
      identity.remember(weixinUserId, null);
      await deps.sessions.endAll({ kind: 'wechat', id: weixinUserId }, weixinUserId, 'unbind');
    },

    async whoAmI(weixinUserId) {
      const binding = await identity.binding(weixinUserId);
      if (!binding) throw new AppError('NOT_BOUND', '微信尚未绑定手机号', { status: 404 });
      const member = await staff.findByPhone(binding.phone);
      if (member) return { type: 'employee', ...(await profile(deps, member)) };
      return { type: 'visitor', name: binding.nick, department: '', subject_id: -1, avatar: binding.avatar, phone: binding.phone };
    },
  };
}

/** 3.2: the name and phone must be a Koala employee's; the binding is made in the cloud service. */
async function bindStaff(deps: BindingsDeps, weixinUserId: string, input: { name: string; phone: string; sms_code?: string }): Promise<StaffProfile> {
  const phone = phoneField('phone', input.phone);
  const name = input.name.trim();
  if (!name) throw new AppError('VALIDATION_FAILED', '字段 name 不能为空');
  const member = await withCode(deps, weixinUserId, phone, input.sms_code, async () => {
    const found = mustBeStaff(await deps.staff.findByNameAndPhone(name, phone), '考拉系统中没有该姓名和手机号的员工');
    await bind(deps, weixinUserId, phone);
    return found;
  });
  return profile(deps, member);
}

async function profile(deps: Pick<BindingsDeps, 'avatars'>, member: StaffMember): Promise<StaffProfile> {
  return {
    subject_id: member.subjectId,
    name: member.name,
    department: member.department,
    avatar: await deps.avatars.urlFor(member.koalaAvatarUrl),
    phone: member.phone,
  };
}

/**
 * The code guarding a binding is checked before anything else and taken at once (so one code
 * binds once, however many requests carry it); `work` refused for any reason gives it back (§3.0).
 */
async function withCode<T>(deps: BindingsDeps, weixinUserId: string, phone: string, code: string | undefined, work: () => Promise<T>): Promise<T> {
  const codeId = deps.verifyPhone ? await deps.smsCodes.claim(phone, code, weixinUserId) : null;
  try {
    return await work();
  } catch (err) {
    if (codeId !== null) await deps.smsCodes.release(codeId);
    throw err;
  }
}

/** Binds in the cloud service, and remembers the binding in this process at once. */
async function bind(deps: BindingsDeps, weixinUserId: string, phone: string) {
  const binding = await deps.cloud.bind(weixinUserId, phone);
  deps.identity.remember(weixinUserId, binding);
  return binding;
}
