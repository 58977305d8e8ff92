import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { settings } from '../../db/schema.js';

/** One JSON value per key in `settings`; reads and writes go through the given db or transaction. */
export const settingsRepo = {
  async read<T>(db: Db, key: string): Promise<T | null> {
    const [row] = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, key)).limit(1);
    return row ? (row.value as T) : null;
  },
  /** As read, the row locked until the transaction `tx` ends (no row: nothing to lock, null). */
  async readForUpdate<T>(tx: Db, key: string): Promise<T | null> {
    const [row] = await tx.select({ value: settings.value }).from(settings).where(eq(settings.key, key)).limit(1).for('update');
    return row ? (row.value as T) : null;
  },
  async write(db: Db, key: string, value: unknown, atSeconds: number): Promise<void> {
    await db
      .insert(settings)
      .values({ key, value, updatedAt: atSeconds })
      .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: atSeconds } });
  },
};
