import { eq } from 'drizzle-orm';
import { randomSecret } from '../config.js';
import { openDatabase, type Database } from '../db/client.js';
import { startBackupSocket } from '../db/online-backup.js';
import { appState } from '../db/schema.js';
import type { Step } from './steps.js';

/** The database opened (or the one given) and migrated, and the server secret. */
export async function openDatabaseStep(step: Step, given: Database | undefined): Promise<{ database: Database; secret: string }> {
  const database = given ?? (await openDatabase(step.config.databaseUrl));
  step.closers.add(() => database.close());
  await database.migrate();
  // `npm run backup` of the embedded database asks this process for a copy (ADR 0008).
  const backups = await startBackupSocket({ database, databaseUrl: step.config.databaseUrl, logger: step.logger });
  step.closers.add(() => backups.close());
  const secret = step.config.sessionSecret ?? (await storedSecret(database, step.now));
  return { database, secret };
}

/** Outside production a secret is generated once per data directory and kept in the database. */
async function storedSecret(database: Database, now: () => number): Promise<string> {
  const key = 'session_secret';
  await database.db
    .insert(appState)
    .values({ key, value: { secret: randomSecret() }, updatedAt: new Date(now()) })
    .onConflictDoNothing();
  const [row] = await database.db.select().from(appState).where(eq(appState.key, key)).limit(1);
  return (row!.value as { secret: string }).secret;
}
