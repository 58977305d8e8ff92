import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A mainland mobile number standing alone (not inside a longer run of digits such as a
 * timestamp), also typed in groups: apart by spaces, dashes, dots, `+` or `%20` (a URL's space).
 */
export const FULL_MOBILE = /(?<!\d)1[3-9]\d(?:[-\s.+]|%20)?\d{4}(?:[-\s.+]|%20)?\d{4}(?!\d)/;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

export interface LogScan {
  files: number;
  lines: number;
  /** `file: line` of each line that carries a full number (the first 20). */
  leaks: string[];
  leakCount: number;
}

/**
 * PIPL (issue 6): every log line the suite wrote — each test file's service logs at level
 * debug, collected by test/helpers/harness.ts — is searched for a full mobile number.
 */
export function scanLogDir(dir: string): LogScan {
  const out: LogScan = { files: 0, lines: 0, leaks: [], leakCount: 0 };
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.log'));
  } catch {
    return out;
  }
  for (const name of names) {
    out.files++;
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (line === '') continue;
      out.lines++;
      // Request ids are UUIDs, whose hex may hold 11 decimal digits in a row.
      if (FULL_MOBILE.test(line.replace(UUID, 'uuid'))) {
        out.leakCount++;
        if (out.leaks.length < 20) out.leaks.push(`${name}: ${line.slice(0, 400)}`);
      }
    }
  }
  return out;
}
