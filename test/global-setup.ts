import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openDatabase, type Database } from '../src/db/client.js';
import { startQueue } from '../src/db/queue.js';
import { createLogger } from '../src/log.js';
import { scanLogDir } from './security/log-scan.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
    pgTemplate: string;
    /** Where each test file's service logs go (level debug), scanned for full phone numbers at the end. */
    logDir: string;
  }
}

/** Our migrations plus pg-boss's own schema: what every test database starts from. */
async function prepare(database: Database): Promise<void> {
  await database.migrate();
  const queue = await startQueue(database.executor, { maintenanceIntervalSeconds: 60 }, createLogger('silent'));
  await queue.stop();
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // A migrated PGlite data directory; each test file opens a copy of it (a copy opens in
  // under a second, where loading a dump or running initdb takes several).
  const dir = mkdtempSync(join(tmpdir(), 'laifang-test-'));
  const templateDir = join(dir, 'pglite-template');
  const pglite = await openDatabase(`pglite://${templateDir}`);
  await prepare(pglite);
  await pglite.close();
  project.provide('pgliteTemplate', templateDir);

  let pgTemplate = '';
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    pgTemplate = `laifang_tpl_${process.pid}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`drop database if exists ${pgTemplate}`);
    await admin.query(`create database ${pgTemplate}`);
    await admin.end();
    const target = new URL(url);
    target.pathname = `/${pgTemplate}`;
    const database = await openDatabase(target.toString(), { poolSize: 2 });
    await prepare(database);
    await database.close();
  }
  project.provide('pgTemplate', pgTemplate);
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  project.provide('logDir', logDir);

  return async () => {
    // PIPL (issue 6): no log line of the whole run may carry a full mobile number.
    const scan = scanLogDir(logDir);
    const kept = scan.leakCount > 0 ? `${dir}-leaks` : null;
    if (kept) cpSync(logDir, kept, { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    if (url && pgTemplate) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`drop database if exists ${pgTemplate} with (force)`);
      await admin.end();
    }
    console.log(`log scan (${project.name || 'root'}): ${scan.lines} lines in ${scan.files} files, ${scan.leakCount} with a full phone number`);
    if (scan.leakCount > 0) {
      // Vitest only reports an error thrown here ("error during close"); the exit code makes it fail the run.
      process.exitCode = 1;
      throw new Error(`${scan.leakCount} log lines carry a full phone number (logs kept in ${kept}):\n${scan.leaks.join('\n')}`);
    }
  };
}
