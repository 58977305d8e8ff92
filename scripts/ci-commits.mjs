#!/usr/bin/env node
// Commit subjects are at most 72 characters, the detail in the body ("One house" issue): every
// commit after BASE (the commit where the rule started) is checked. A clone without BASE (a
// shallow one) has nothing to check against and says so.
//
//   node scripts/ci-commits.mjs [base] [head]
import { execFileSync } from 'node:child_process';

const BASE = process.argv[2] ?? '4158c15';
const HEAD = process.argv[3] ?? 'HEAD';
const LIMIT = 72;

const git = (...args) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

try {
  git('cat-file', '-e', `${BASE}^{commit}`);
} catch {
  console.log(`== commit subjects: ${BASE} is not in this clone's history (shallow?): not checked`);
  process.exit(0);
}

const log = git('log', '--format=%h%x00%s%x1e', `${BASE}..${HEAD}`);
const commits = log
  .split('\x1e')
  .map((entry) => entry.trim())
  .filter(Boolean)
  .map((entry) => {
    const [hash, subject = ''] = entry.split('\x00');
    return { hash, subject };
  });
// Characters, not bytes: a subject in Chinese counts each character once.
const tooLong = commits.filter((c) => [...c.subject].length > LIMIT);
for (const c of tooLong) console.error(`!! ${c.hash}: ${[...c.subject].length} characters: ${c.subject}`);
if (tooLong.length > 0) {
  console.error(`!! ${tooLong.length} commit subject(s) over ${LIMIT} characters: shorten the subject, put the detail in the body.`);
  process.exit(1);
}
console.log(`== commit subjects: ${commits.length} commits after ${BASE}, every subject at most ${LIMIT} characters`);
