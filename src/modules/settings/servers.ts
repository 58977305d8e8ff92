import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SecretBox } from './secret-box.js';
import { settingsRepo } from './repo.js';

export interface KoalaConnection {
  url: string;
  username: string;
  password: string;
}

export interface Servers {
  koala: KoalaConnection;
  cloudUrl: string;
}

/** What is kept under `servers`; any field absent falls back to the environment. */
interface Stored {
  koala_url?: string;
  koala_username?: string;
  /** Sealed with the SecretBox, never the clear text. */
  koala_password?: string;
  cloud_url?: string;
}

export interface ServersInput {
  koala_url?: string;
  koala_username?: string;
  /** The mask (or absence) keeps the stored password; a new `koala_url` needs it in clear. */
  koala_password?: string;
  cloud_url?: string;
}

/** What the caller proved besides holding an admin token. */
export interface ServersProof {
  /** The admin typed their own password again (checked by the caller): needed for a new `cloud_url`. */
  adminPassword: boolean;
}

export interface ServersView {
  koala_url: string;
  koala_username: string;
  /** Always the mask when a password is set ('' otherwise): the clear text never leaves. */
  koala_password: string;
  koala_password_set: boolean;
  cloud_url: string;
  /** Which fields come from the database (the rest from the environment). */
  stored: string[];
}

export const PASSWORD_MASK = '******';
const KEY = 'servers';

export interface ServerSettings {
  view(db?: Db): Promise<ServersView>;
  /**
   * Writes through `tx`; call refresh() once it has committed. Returns the names of changed
   * fields. A new Koala address needs the Koala password in the same input, a new cloud address
   * the admin's own password (`proof`): a token alone never redirects a secret or the bindings.
   */
  update(tx: Db, input: ServersInput, proof: ServersProof): Promise<string[]>;
  /** The connection in force on this replica (no I/O: safe on any path, even inside a transaction). */
  current(): Servers;
  /** Re-reads the stored settings now. */
  refresh(): Promise<void>;
  /** Re-reads every `intervalMs`, so a change made on another replica lands here too. */
  start(intervalMs: number): Promise<void>;
  stop(): void;
}

function httpUrl(field: string, raw: string): string {
  const v = raw.trim();
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new AppError('VALIDATION_FAILED', `字段 ${field} 必须是 http:// 或 https:// 地址`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || u.search || u.hash) {
    throw new AppError('VALIDATION_FAILED', `字段 ${field} 必须是不含账号、查询参数的 http:// 或 https:// 地址`);
  }
  return v.replace(/\/+$/, '');
}

const sameUrl = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/**
 * A new Koala address only with the Koala password typed again (the stored one is never sent
 * to a new address); a new cloud address only with the admin's own password (`proof`).
 */
function requireProof(was: Servers, next: Stored, input: ServersInput, proof: ServersProof): void {
  const newPassword = input.koala_password !== undefined && input.koala_password !== PASSWORD_MASK && input.koala_password !== '';
  if (next.koala_url !== undefined && !sameUrl(next.koala_url, was.koala.url) && !newPassword) {
    throw new AppError('VALIDATION_FAILED', '修改 Koala 地址（koala_url）时必须重新输入 Koala 密码（koala_password）：已保存的密码不会发往新地址');
  }
  if (next.cloud_url !== undefined && !sameUrl(next.cloud_url, was.cloudUrl) && !proof.adminPassword) {
    throw new AppError('VALIDATION_FAILED', '修改微信云服务地址（cloud_url）时必须输入您的管理员密码（admin_password）');
  }
}

export function createServerSettings(deps: { db: Db; box: SecretBox; defaults: Servers; logger: Logger; now: () => number }): ServerSettings {
  let stored: Stored = {};
  let timer: NodeJS.Timeout | null = null;
  let warnedUnreadable = false;

  const password = (s: Stored): string | null => {
    if (s.koala_password === undefined) return null;
    const clear = deps.box.open(s.koala_password);
    if (clear === null && !warnedUnreadable) {
      warnedUnreadable = true;
      deps.logger.warn(
        'the stored Koala password cannot be read with the current SESSION_SECRET: using the configured one; set it again in PUT /v1/config/servers',
      );
    }
    return clear;
  };
  const effective = (s: Stored): Servers => ({
    koala: {
      url: s.koala_url ?? deps.defaults.koala.url,
      username: s.koala_username ?? deps.defaults.koala.username,
      password: password(s) ?? deps.defaults.koala.password,
    },
    cloudUrl: s.cloud_url ?? deps.defaults.cloudUrl,
  });
  const load = async (db: Db) => (await settingsRepo.read<Stored>(db, KEY)) ?? {};

  const settings: ServerSettings = {
    async view(db = deps.db) {
      const s = await load(db);
      const e = effective(s);
      return {
        koala_url: e.koala.url,
        koala_username: e.koala.username,
        koala_password: e.koala.password ? PASSWORD_MASK : '',
        koala_password_set: e.koala.password !== '',
        cloud_url: e.cloudUrl,
        stored: Object.keys(s).sort(),
      };
    },
    async update(tx, input, proof) {
      // Locked until `tx` ends: two changes at once apply one after the other.
      const before = (await settingsRepo.readForUpdate<Stored>(tx, KEY)) ?? {};
      const next: Stored = { ...before };
      const changed: string[] = [];
      const was = effective(before);
      if (input.koala_url !== undefined) next.koala_url = httpUrl('koala_url', input.koala_url);
      if (input.cloud_url !== undefined) next.cloud_url = httpUrl('cloud_url', input.cloud_url);
      requireProof(was, next, input, proof);
      if (input.koala_username !== undefined) {
        const u = input.koala_username.trim();
        if (u === '') throw new AppError('VALIDATION_FAILED', '字段 koala_username 不能为空');
        next.koala_username = u;
      }
      if (input.koala_password !== undefined && input.koala_password !== PASSWORD_MASK) {
        if (input.koala_password === '') throw new AppError('VALIDATION_FAILED', '字段 koala_password 不能为空（不修改密码时请省略或传 "******"）');
        next.koala_password = deps.box.seal(input.koala_password);
        changed.push('koala_password');
      }
      for (const f of ['koala_url', 'koala_username', 'cloud_url'] as const) if (next[f] !== before[f]) changed.push(f);
      if (changed.length > 0) await settingsRepo.write(tx, KEY, next, Math.floor(deps.now() / 1000));
      return changed.sort();
    },
    current: () => effective(stored),
    async refresh() {
      stored = await load(deps.db);
    },
    async start(intervalMs) {
      await settings.refresh();
      timer = setInterval(() => {
        settings.refresh().catch((err: unknown) => deps.logger.warn({ err }, 'reading the server settings failed: keeping the last ones'));
      }, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
  return settings;
}

/**
 * A port whose every call goes to the client for the connection in force at the time of the
 * call: a changed Koala address or account is used from the next call on, without a restart.
 * One client per distinct connection is kept (it holds the Koala login cookie).
 */
export function livePort<T extends object>(key: () => string, build: () => T): T {
  let currentKey: string | null = null;
  let client: T | null = null;
  const instance = (): T => {
    const k = key();
    if (client === null || k !== currentKey) {
      client = build();
      currentKey = k;
    }
    return client;
  };
  return new Proxy({} as T, {
    get(_target, prop) {
      const value = (instance() as Record<string | symbol, unknown>)[prop];
      return typeof value === 'function' ? (...args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(instance(), args) : value;
    },
  });
}
