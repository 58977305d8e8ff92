import { sql } from 'drizzle-orm';
import type { Database, Statement } from '../../../db/client.js';
import { applyWindows } from '../../../db/schema.js';

const APPLY_WINDOW: Statement = {
  name: 'laifang_apply_window',
  text: `select applied_at from apply_windows where phone = $1`,
};

/**
 * The hourly windows (apply_windows): per caller, the Unix seconds of its newest applications,
 * ascending, at most APPLY_PER_HOUR of them. The statement that writes applications keeps them
 * (repo/create-applications.ts); these read and sweep them.
 */
export const applyWindowRepo = {
  /** The caller's window (empty when it has none). */
  async read(database: Database, phone: string): Promise<number[]> {
    const [row] = await database.query<{ applied_at: Array<string | number> }>(APPLY_WINDOW, [phone]);
    return row ? row.applied_at.map(Number) : [];
  },

  /** Deletes the windows whose newest second left the hour before `nowSeconds`: nothing of them counts any more. */
  async sweep(database: Database, nowSeconds: number): Promise<number> {
    const newest = sql`coalesce(${applyWindows.appliedAt}[cardinality(${applyWindows.appliedAt})], 0)`;
    const gone = await database.db
      .delete(applyWindows)
      .where(sql`${newest} <= ${nowSeconds - 3600}`)
      .returning({ phone: applyWindows.phone });
    return gone.length;
  },
};
