import type { Config, TemplateName } from '../../config.js';
import { TEMPLATE_NAMES } from '../../config.js';
import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { settingsRepo } from './repo.js';

export type Templates = Config['templates'];
/** Per event: a stored id per channel (absent: the environment's). */
type Stored = Partial<Record<TemplateName, { sms?: string; wechat?: string }>>;

export type TemplatesInput = Record<string, { sms?: string | null; wechat?: string | null }>;

const KEY = 'templates';
/** Aliyun template codes (SMS_123456789) and WeChat template ids (43 URL-safe characters). */
const TEMPLATE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/**
 * How long the ids in force are used without reading them again. A change through this
 * process is seen at once (update() forgets them, view() after the commit reads them); one
 * made through another replica, within this long.
 */
const CACHE_MS = 2000;

export interface TemplateSettings {
  /**
   * Stored overrides over the environment's ids, as read at most CACHE_MS ago (through `db`
   * when it is read now). Every application and sign-in plans its messages with these.
   */
  current(db?: Db): Promise<Templates>;
  /** Every event with its ids in force and where each comes from. */
  view(
    db?: Db,
  ): Promise<Record<TemplateName, { sms: string; wechat: string; sms_source: 'database' | 'environment'; wechat_source: 'database' | 'environment' }>>;
  /** null (or '') removes an override. Returns `event.channel` names that changed. */
  update(tx: Db, input: TemplatesInput): Promise<string[]>;
}

export function createTemplateSettings(deps: { db: Db; defaults: Templates; now: () => number }): TemplateSettings {
  const load = async (db: Db) => (await settingsRepo.read<Stored>(db, KEY)) ?? {};
  const merge = (s: Stored): Templates => {
    const out: Templates = { sms: { ...deps.defaults.sms }, wechat: { ...deps.defaults.wechat } };
    for (const name of TEMPLATE_NAMES) {
      if (s[name]?.sms) out.sms[name] = s[name].sms;
      if (s[name]?.wechat) out.wechat[name] = s[name].wechat;
    }
    return out;
  };
  let cached: { templates: Templates; at: number } | null = null;
  const remember = (s: Stored): Templates => {
    const templates = merge(s);
    cached = { templates, at: deps.now() };
    return templates;
  };
  return {
    async current(db = deps.db) {
      if (cached && deps.now() - cached.at < CACHE_MS && deps.now() >= cached.at) return cached.templates;
      return remember(await load(db));
    },
    async view(db = deps.db) {
      const s = await load(db);
      const m = remember(s);
      return Object.fromEntries(
        TEMPLATE_NAMES.map((n) => [
          n,
          { sms: m.sms[n], wechat: m.wechat[n], sms_source: s[n]?.sms ? 'database' : 'environment', wechat_source: s[n]?.wechat ? 'database' : 'environment' },
        ]),
      ) as Awaited<ReturnType<TemplateSettings['view']>>;
    },
    async update(tx, input) {
      const before = await load(tx);
      const next: Stored = structuredClone(before);
      const changed: string[] = [];
      for (const [name, ids] of Object.entries(input)) {
        if (!(TEMPLATE_NAMES as readonly string[]).includes(name))
          throw new AppError('VALIDATION_FAILED', `未知的模板事件 ${name}（可选：${TEMPLATE_NAMES.join('、')}）`);
        const event = name as TemplateName;
        for (const channel of ['sms', 'wechat'] as const) {
          const v = ids[channel];
          if (v === undefined) continue;
          const entry = (next[event] ??= {});
          if (v === null || v === '') delete entry[channel];
          else if (!TEMPLATE_ID.test(v)) throw new AppError('VALIDATION_FAILED', `字段 ${event}.${channel} 必须是 1–64 个字母、数字、_ 或 -`);
          else entry[channel] = v;
          if (entry[channel] !== before[event]?.[channel]) changed.push(`${event}.${channel}`);
          if (Object.keys(entry).length === 0) delete next[event];
        }
      }
      if (changed.length > 0) await settingsRepo.write(tx, KEY, next, Math.floor(deps.now() / 1000));
      cached = null;
      return changed;
    },
  };
}
