import { eq } from 'drizzle-orm';
import { randomSecret } from '../config.js';
import { openDatabase, type Database } from '../db/client.js';
import { appState } from '../db/schema.js';
import type { Step } from './steps.js';

/** The database opened (or the one given) and migrated, and the server secret. */
export async function openDatabaseStep(step: Step, given: Database | undefined): Promise<{ database: Database; secret: string }> {
  const database = given ?? (await openDatabase(step.config.databaseUrl));
  step.closers.add(() => database.close());
  await database.migrate();
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
