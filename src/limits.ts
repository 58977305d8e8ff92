/**
 * The limits of what people type: one definition for the request schemas, the operations that
 * validate, the database columns and the pages' forms (web/src/limits.ts re-exports this file,
 * so it imports nothing).
 */
export const LIMITS = {
  /** A visitor's, a companion's or a host's name. */
  personName: 32,
  /** The visitor's company (`come_from`). */
  company: 64,
  /** The free-text remark of an application. */
  remark: 200,
  /** The reason given when a visit is rejected or cancelled. */
  statusReason: 100,
  /** Companions of one application (`retinues`). */
  companions: 20,
  /** A phone number as typed (spaces, dashes and +86 are removed before it is checked). */
  phoneInput: 32,
} as const;

/**
 * The visit window's defaults (the configuration's `MAX_VISIT_HOURS`, `MAX_DAYS_AHEAD`): a
 * visit lasts at most a day and starts within a quarter, so a pass, its Koala visitor and the
 * record all end, and the check-out sweep and retention reach every record.
 */
export const VISIT_WINDOW = { maxHours: 24, maxDaysAhead: 90 } as const;

/**
 * Characters typed text never holds: control characters (Cc; a remark keeps tab and line
 * breaks), format characters (Cf: the bidi overrides and isolates U+202A–U+202E, U+2066–U+2069,
 * the marks U+200E/U+200F, the zero-width U+200B–U+200D and U+2060, U+FEFF, the soft hyphen,
 * tag characters), line and paragraph separators (Zl, Zp) and unpaired surrogates (Cs). They
 * show nothing, or reorder what is shown, in a name that reaches a host's WeChat message.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const HIDDEN_MULTILINE = /(?![\t\n\r])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/** Typed text as it is kept: NFC (one encoding of each character), without surrounding white space. */
export function normalizeText(raw: string): string {
  return raw.normalize('NFC').trim();
}

/** What is wrong with a typed text, as normalizeText keeps it. */
export type TextProblem = { kind: 'hidden'; character: string } | { kind: 'empty' } | { kind: 'too_long'; max: number };

/**
 * The one rule for a typed text field, used by the server (applications/validate.ts) and the
 * pages' forms alike: `text` (normalised) has no hidden character and `min`–`max` characters
 * (code points, as the database and the pages count them). Null when it is fine.
 */
export function textProblem(text: string, min: number, max: number, multiline = false): TextProblem | null {
  const character = hiddenCharacter(text, multiline);
  if (character) return { kind: 'hidden', character };
  if (text.length < min) return { kind: 'empty' };
  if ([...text].length > max) return { kind: 'too_long', max };
  return null;
}

/** The first hidden character of `text` as `U+XXXX`, or null when it has none. */
export function hiddenCharacter(text: string, multiline = false): string | null {
  const m = (multiline ? HIDDEN_MULTILINE : HIDDEN).exec(text);
  return m ? `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : null;
}
