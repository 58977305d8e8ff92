import { spawn } from 'node:child_process';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { admins, auditLog } from '../../src/db/schema.js';
import { verifyPassword } from '../../src/modules/admin/password.js';
import { openTestDatabase } from '../helpers/harness.js';

// `npm run admin:create` as a separate process against a fresh database (~10 s: two tsx starts).

const PASSWORD = 'cli-created-password-42';
let url: string;
let drop: () => Promise<void>;

function run(args: string[], stdin: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/admin-cli.ts', ...args], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', DATABASE_URL: url },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.end(stdin);
  });
}

beforeAll(async () => {
  const t = await openTestDatabase();
  // The command opens the database itself (a PGlite directory has one user at a time).
  await t.database.close();
  url = t.url;
  drop = t.drop;
});
afterAll(async () => {
  await drop?.();
});

describe('npm run admin:create', () => {
  it('creates an admin from a piped password (scrypt, audited); the password is not echoed; a taken username fails', async () => {
    const ok = await run(['--username', 'cli-admin'], `${PASSWORD}\n`);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain('admin "cli-admin" created');
    expect(ok.out).not.toContain(PASSWORD);

    const again = await run(['--username', 'cli-admin'], `${PASSWORD}\n`);
    expect(again.code).toBe(1);
    expect(again.out).toContain('已存在');

    const db = await openDatabase(url);
    try {
      const [row] = await db.db.select().from(admins).where(eq(admins.username, 'cli-admin'));
      expect(row!.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
      expect(await verifyPassword(PASSWORD, row!.passwordHash)).toBe(true);
      expect(await verifyPassword(`${PASSWORD}x`, row!.passwordHash)).toBe(false);
      const audit = await db.db.select().from(auditLog).where(eq(auditLog.action, 'admin.create'));
      expect(audit.map((a) => [a.actorKind, a.actorId, a.targetId])).toEqual([['system', 'admin-cli', String(row!.id)]]);
    } finally {
      await db.close();
    }
  }, 60_000);
});
