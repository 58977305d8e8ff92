import { createHash, randomBytes } from 'node:crypto';
import type { Database, Db } from '../../db/client.js';
import { deviceRepo } from './repo.js';

export const DEVICE_KINDS = ['kiosk', 'turnstile'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export interface Device {
  id: number;
  name: string;
  kind: DeviceKind;
}

export interface DeviceRow extends Device {
  createdAt: number;
  revokedAt: number | null;
}

export interface Devices {
  /** The token is returned here once and never again (only its hash is stored). */
  register(input: { name: string; kind: DeviceKind }, executor?: Db): Promise<Device & { token: string; createdAt: number }>;
  /** The active device this token belongs to; null for a revoked, unknown or malformed token. */
  authenticate(token: string): Promise<Device | null>;
  /** True when an active device was revoked now (false: unknown or already revoked). */
  revoke(id: number, executor?: Db): Promise<boolean>;
  list(): Promise<DeviceRow[]>;
}

/** `dev_` + 256 random bits: the prefix tells it apart from session and admin tokens at a glance. */
const TOKEN_RE = /^dev_[A-Za-z0-9_-]{43}$/;

// The token has 256 bits of entropy, so a plain SHA-256 is enough: nothing to brute-force, and
// the lookup stays one indexed read (turnstiles authenticate on every scan).
const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export function createDevices(deps: { db: Db; now: () => number; database?: Pick<Database, 'query'> }): Devices {
  const { db } = deps;
  const nowSeconds = () => Math.floor(deps.now() / 1000);
  return {
    async register({ name, kind }, executor = db) {
      const token = `dev_${randomBytes(32).toString('base64url')}`;
      const createdAt = nowSeconds();
      const id = await deviceRepo.insert(executor, { name, kind, tokenHash: hashToken(token), createdAt });
      return { id, name, kind, token, createdAt };
    },
    async authenticate(token) {
      if (!TOKEN_RE.test(token)) return null;
      const row = await deviceRepo.activeByHash(db, deps.database, hashToken(token));
      return row ? { ...row, kind: row.kind as DeviceKind } : null;
    },
    revoke: (id, executor = db) => deviceRepo.revoke(executor, id, nowSeconds()),
    async list() {
      const rows = await deviceRepo.list(db);
      return rows.map((r) => ({ ...r, kind: r.kind as DeviceKind }));
    },
  };
}
