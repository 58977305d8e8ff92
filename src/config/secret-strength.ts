/**
 * Why a SESSION_SECRET is too weak to sign sessions with, or null. It signs every session and
 * admin token and derives the other keys: one that can be guessed lets anybody forge them.
 * Length alone is checked by the variable's kind (32 characters); this catches secrets that are
 * long but not random — `aaaa…`, `abab…`, `changeme-changeme-…`, `0123456789abcdef…` — while
 * any output of `openssl rand -hex 16` or longer passes (the thresholds are far from what
 * random text gives: a 32-character hex string estimates at 89 bits or more, 16 distinct
 * characters on average, a period match near 1 in 16, a step of ±1 near 3 in 16).
 */
export function secretWeakness(secret: string): string | null {
  const chars = [...secret];
  const n = chars.length;
  if (n === 0) return 'it is empty';
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  if (counts.size < 6) return `it uses only ${counts.size} different characters`;
  // Shannon's estimate from the characters' frequencies, in bits for the whole secret.
  let bits = 0;
  for (const k of counts.values()) bits -= k * Math.log2(k / n);
  if (bits < 80) return `it carries about ${Math.round(bits)} bits of randomness (at least 80 are needed)`;
  // A short piece repeated: most characters equal the one a period further on.
  for (let p = 1; p <= n / 2; p++) {
    let same = 0;
    for (let i = 0; i + p < n; i++) if (chars[i] === chars[i + p]) same++;
    if (same >= 0.75 * (n - p)) return `it repeats a piece of ${p} characters`;
  }
  // A run such as 0123456789abcdef…: most neighbours one code point apart.
  let steps = 0;
  for (let i = 1; i < n; i++) if (Math.abs(chars[i]!.codePointAt(0)! - chars[i - 1]!.codePointAt(0)!) === 1) steps++;
  if (steps >= 0.5 * (n - 1)) return 'it is mostly a run of consecutive characters';
  return null;
}
