import type { AuditEntry } from '../api-types';
import { fmt } from './time';

/** Every action the server audits (grep `action: '` in src/), in Chinese. */
export const ACTIONS: Record<string, string> = {
  'admin.create': '创建管理员',
  'admin.delete': '删除管理员',
  'admin.login': '管理员登录',
  'admin.password_change': '修改密码',
  'config.servers.update': '修改服务器设置',
  'config.templates.update': '修改通知模板',
  'device.register': '注册设备',
  'device.revoke': '吊销设备',
  'application.delete': '删除来访记录',
  'application.authorize': '授权来访',
  'session.revoke_all': '结束微信用户的全部登录',
  'visit.signin': '签到',
  'visit.signin_repeat': '重复签到（补打通行证）',
  'visit.signout': '签退',
  'visit.auto_signout': '到期自动签退',
  'privacy.export': '导出个人信息',
  'privacy.erase': '删除个人信息',
};

export const ACTOR_KINDS: Record<string, string> = { admin: '管理员', device: '设备', staff: '员工', visitor: '访客', wechat: '微信用户', system: '系统' };

/** Who acted, in words: "管理员 admin", "设备 一楼前台", "员工 张伟", "系统（到期自动签退）". */
export function actorWords(e: AuditEntry): string {
  const kind = ACTOR_KINDS[e.actor_kind] ?? e.actor_kind;
  if (e.actor_kind === 'system') return e.actor_id === 'window-end' ? '系统（窗口结束）' : e.actor_id === 'config' ? '系统（配置）' : '系统';
  if (e.actor_name) return `${kind} ${e.actor_name}`;
  if (e.actor_kind === 'admin' || e.actor_kind === 'device') return `${kind} #${e.actor_id}（已删除）`;
  return `${kind} ${e.actor_id}`;
}

/** What was acted on, in words, and where the console shows it (a hash link), if anywhere. */
export function targetWords(e: AuditEntry): { text: string; href: string | null } {
  const id = e.target_id;
  switch (e.target_type) {
    case 'application':
      return { text: e.target_name ? `来访记录 #${id}（${e.target_name}）` : `来访记录 #${id}（已删除）`, href: e.target_name ? `#/records?id=${id}` : null };
    case 'device':
      return { text: e.target_name ? `设备「${e.target_name}」` : `设备 #${id}`, href: `#/devices?id=${id}` };
    case 'admin':
      return { text: e.target_name ? `管理员 ${e.target_name}` : `管理员 #${id}`, href: null };
    case 'settings':
      return { text: id === 'servers' ? '服务器设置' : id === 'templates' ? '通知模板' : `设置 ${id}`, href: '#/settings' };
    case 'phone':
      return { text: `手机号 ${id}`, href: null };
    case 'wechat_user':
      return { text: `微信用户 ${id}`, href: null };
    default:
      return { text: `${e.target_type} ${id}`, href: null };
  }
}

const LABELS: Record<string, string> = {
  passes: '通行证',
  pass: '通行证编号',
  phone: '手机号',
  via: '方式',
  reason: '原因',
  username: '用户名',
  source: '来源',
  address: '登录地址',
  name: '名称',
  kind: '类型',
  interviewee: '被访人',
  start_time: '开始',
  end_time: '结束',
  changed: '修改的项',
  koala_url: 'Koala 地址',
  koala_username: 'Koala 用户名',
  koala_password: 'Koala 密码',
  cloud_url: '微信云服务地址',
  body: '新的模板',
  sms: '短信',
  wechat: '微信',
  verification_code: '短信验证码',
  approval_pass_to_visitor: '授权通过（通知访客）',
  approval_reminder_to_employee: '待授权提醒（通知员工）',
  application_submitted_to_visitor: '申请已提交（通知访客）',
  signin_to_visitor: '签到成功（通知访客）',
  visitor_signin_to_employee: '访客已签到（通知员工）',
  applicationsDeleted: '删除来访记录',
  companionEntriesDeleted: '删除同行人信息',
  passesDeleted: '删除通行证',
  notificationsDeleted: '删除通知',
  smsCodesDeleted: '删除验证码',
  idempotencyKeysDeleted: '删除重复提交保护记录',
  staffCacheDeleted: '删除员工缓存',
  auditEntriesMasked: '遮盖审计日志',
  picturesDeleted: '删除图片',
  applications: '来访记录',
  notifications: '通知',
};
const VALUES: Record<string, string> = {
  invitation: '员工邀请',
  admin: '管理员操作',
  unbind: '解除绑定',
  sign_out_everywhere: '在所有设备退出',
  kiosk: '前台签到机',
  turnstile: '闸机',
  environment: '环境变量',
  cli: '命令行',
  'demo credential with the real integrations': '连接真实系统时不允许演示账号',
};
const TIME_KEYS = new Set(['start_time', 'end_time']);

function value(key: string, v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (TIME_KEYS.has(key) && typeof v === 'number') return fmt(v);
  if (Array.isArray(v)) return v.map((x) => LABELS[String(x)] ?? VALUES[String(x)] ?? String(x)).join('、');
  if (typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${LABELS[k] ?? k}：${value(k, x)}`)
      .join('；');
  }
  return VALUES[String(v)] ?? String(v);
}

/** The entry's detail as labelled fields. */
export function detailFields(e: AuditEntry): Array<{ label: string; value: string }> {
  return Object.entries(e.detail ?? {}).map(([k, v]) => ({ label: LABELS[k] ?? k, value: value(k, v) }));
}
