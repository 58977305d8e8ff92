import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Database, Db, Statement } from '../../db/client.js';
import { devices } from '../../db/schema.js';

// Every turnstile scan authenticates: one prepared statement (parsed and planned once per
// connection on PostgreSQL), no query building.
const ACTIVE_BY_HASH: Statement = {
  name: 'laifang_device_by_token',
  text: 'select id, name, kind from devices where token_hash = $1 and revoked_at is null limit 1',
};

export const deviceRepo = {
  async insert(executor: Db, row: { name: string; kind: string; tokenHash: string; createdAt: number }): Promise<number> {
    const [created] = await executor.insert(devices).values(row).returning({ id: devices.id });
    return created!.id;
  },

  /** The active device with this token hash: the prepared statement when `database` is given. */
  async activeByHash(db: Db, database: Pick<Database, 'query'> | undefined, hash: string): Promise<{ id: number; name: string; kind: string } | null> {
    const [row] = database
      ? await database.query<{ id: string | number; name: string; kind: string }>(ACTIVE_BY_HASH, [hash])
      : await db
          .select({ id: devices.id, name: devices.name, kind: devices.kind })
          .from(devices)
          .where(and(eq(devices.tokenHash, hash), isNull(devices.revokedAt)))
          .limit(1);
    return row ? { id: Number(row.id), name: row.name, kind: row.kind } : null;
  },

  /** Revokes an active device; false when it is unknown or already revoked. */
  async revoke(executor: Db, id: number, at: number): Promise<boolean> {
    const rows = await executor
      .update(devices)
      .set({ revokedAt: at })
      .where(and(eq(devices.id, id), isNull(devices.revokedAt)))
      .returning({ id: devices.id });
    return rows.length > 0;
  },

  async exists(db: Db, id: number): Promise<boolean> {
    const rows = await db.select({ id: devices.id }).from(devices).where(eq(devices.id, id)).limit(1);
    return rows.length > 0;
  },

  async list(db: Db): Promise<Array<{ id: number; name: string; kind: string; createdAt: number; revokedAt: number | null }>> {
    return db
      .select({ id: devices.id, name: devices.name, kind: devices.kind, createdAt: devices.createdAt, revokedAt: devices.revokedAt })
      .from(devices)
      .orderBy(asc(devices.id));
  },
};
