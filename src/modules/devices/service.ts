import { createHash, randomBytes } from 'node:crypto';
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Database, Db, Statement } from '../../db/client.js';
import { devices } from '../../db/schema.js';

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

// Every turnstile scan authenticates: one prepared statement (parsed and planned once per
// connection on PostgreSQL), no query building.
const ACTIVE_BY_HASH: Statement = {
  name: 'laifang_device_by_token',
  text: 'select id, name, kind from devices where token_hash = $1 and revoked_at is null limit 1',
};

export function createDevices(deps: { db: Db; now: () => number; database?: Pick<Database, 'query'> }): Devices {
  const { db } = deps;
  const nowSeconds = () => Math.floor(deps.now() / 1000);
  return {
    async register({ name, kind }, executor = db) {
      const token = `dev_${randomBytes(32).toString('base64url')}`;
      const createdAt = nowSeconds();
      const [row] = await executor
        .insert(devices)
        .values({ name, kind, tokenHash: hashToken(token), createdAt })
        .returning({ id: devices.id });
      return { id: row!.id, name, kind, token, createdAt };
    },
    async authenticate(token) {
      if (!TOKEN_RE.test(token)) return null;
      const hash = hashToken(token);
      const [row] = deps.database
        ? await deps.database.query<{ id: string | number; name: string; kind: string }>(ACTIVE_BY_HASH, [hash])
        : await db
            .select({ id: devices.id, name: devices.name, kind: devices.kind })
            .from(devices)
            .where(and(eq(devices.tokenHash, hash), isNull(devices.revokedAt)))
            .limit(1);
      return row ? { id: Number(row.id), name: row.name, kind: row.kind as DeviceKind } : null;
    },
    async revoke(id, executor = db) {
      const rows = await executor
        .update(devices)
        .set({ revokedAt: nowSeconds() })
        .where(and(eq(devices.id, id), isNull(devices.revokedAt)))
        .returning({ id: devices.id });
      return rows.length > 0;
    },
    async list() {
      const rows = await db
        .select({ id: devices.id, name: devices.name, kind: devices.kind, createdAt: devices.createdAt, revokedAt: devices.revokedAt })
        .from(devices)
        .orderBy(asc(devices.id));
      return rows.map((r) => ({ ...r, kind: r.kind as DeviceKind }));
    },
  };
}
