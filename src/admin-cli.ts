/* eslint-disable no-console -- a command-line tool: the console is its interface */
import 'dotenv/config';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, randomSecret } from './config.js';
import { openDatabase } from './db/client.js';
import { AppError } from './errors.js';
import { createAdminAccounts } from './modules/admin/service.js';
import { createAdminTokens } from './modules/admin/tokens.js';
import { createAudit } from './modules/audit/service.js';

/**
 * `npm run admin:create -- --username <name>`: creates an admin in the configured database.
 * The password is read from standard input (typed without echo on a terminal, or piped) —
 * never from the command line, where `ps` and the shell history would keep it.
 */
const USAGE = 'usage: npm run admin:create -- --username <name>   (the password is asked for, or read from stdin)';

async function readPassword(): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of input) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  const rl = createInterface({ input, output: process.stdout, terminal: true });
  // Echo nothing while the password is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  process.stdout.write('Password (at least 10 characters): ');
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stdout.write('\n');
  return answer;
}

async function main(): Promise<number> {
  let username: string | undefined;
  try {
    username = parseArgs({ options: { username: { type: 'string' } } }).values.username;
  } catch {
    username = undefined;
  }
  if (!username) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  const password = await readPassword();
  const database = await openDatabase(config.databaseUrl);
  try {
    await database.migrate();
    const now = Date.now;
    // The command issues no tokens: the token key is irrelevant here.
    const accounts = createAdminAccounts({ db: database.db, tokens: createAdminTokens(randomSecret(), 60), audit: createAudit({ db: database.db, now }), now });
    const admin = await accounts.create({ username, password }, { kind: 'system', id: 'admin-cli' });
    console.log(`admin "${admin.username}" created (id ${admin.id}); log in with POST /v1/admin/session`);
    return 0;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof ConfigError || err instanceof AppError ? err.message : err);
    process.exit(1);
  },
);
