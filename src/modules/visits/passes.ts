import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Pass tokens. The kiosk must be able to show a pass again (a second sign-in returns the same
 * passes), so the token cannot be a random value we only keep the hash of. It is derived:
 * token = HMAC(pass key, "token:" + salt), with a fresh 128-bit random salt per pass and a pass
 * key derived from the server secret. The database keeps the salt and SHA-256(token) (the
 * turnstile's lookup key), never the token. A database dump alone therefore gives no pass:
 * the salts are useless without the secret, and the hash cannot be inverted (256-bit HMAC
 * output). Whoever has the secret *and* the database can re-derive every pass — the same
 * exposure as storing the tokens encrypted under that secret, without a cipher to manage.
 * The secret is SESSION_SECRET (production) or the one generated into app_state (development,
 * where a dump does include it). Changing the secret re-issues passes on their next display.
 */
export interface PassKeys {
  /** A fresh salt for a new pass (hex, 128 bits). */
  newSalt(): string;
  token(salt: string): string;
  /** The key in the pass picture's URL: proves the URL came from us without being the token. */
  imageKey(salt: string): string;
  imageKeyMatches(salt: string, given: string): boolean;
  /**
   * The pass's short code (12 letters and digits, 71 bits): the SMS link `https://<host>/p/{code}`
   * opens this one pass without a session. Derived like the token, so a resent message carries
   * the same code; the database keeps only its SHA-256 (`link_hash`).
   */
  linkCode(salt: string): string;
}

/** Length of a pass's short code: 62^12 ≈ 2^71 codes. */
export const LINK_CODE_LENGTH = 12;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export function createPassKeys(serverSecret: string): PassKeys {
  // Domain separation: the session secret signs sessions; this sub-key only makes passes.
  const passKey = createHmac('sha256', serverSecret).update('laifang/visit-pass/v1').digest();
  const mac = (input: string) => createHmac('sha256', passKey).update(input).digest('base64url');
  const imageKey = (salt: string) => mac(`image:${salt}`).slice(0, 22); // 132 bits
  return {
    newSalt: () => randomBytes(16).toString('hex'),
    token: (salt) => mac(`token:${salt}`), // 43 characters, 256 bits
    imageKey,
    linkCode(salt) {
      // 128 bits of HMAC reduced to 12 base-62 digits (the bias of the reduction is below 2^-56).
      let n = BigInt(`0x${createHmac('sha256', passKey).update(`link:${salt}`).digest('hex').slice(0, 32)}`);
      let code = '';
      for (let i = 0; i < LINK_CODE_LENGTH; i += 1) {
        code += BASE62[Number(n % 62n)];
        n /= 62n;
      }
      return code;
    },
    imageKeyMatches(salt, given) {
      const want = Buffer.from(imageKey(salt));
      const got = Buffer.from(given);
      return want.length === got.length && timingSafeEqual(want, got);
    },
  };
}

/** What the QR code says: `{"id": <application id>, "qrcode": "<token>"}` (docs/api-contract-frontdesk.md). */
export function qrContent(applicationId: number, token: string): string {
  return JSON.stringify({ id: applicationId, qrcode: token });
}

/** Reads a scanned QR code; null for anything that is not exactly our shape. */
export function parseQrContent(text: string): { id: number; token: string } | null {
  if (text.length > 512) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const { id, qrcode } = v as { id?: unknown; qrcode?: unknown };
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return null;
  if (typeof qrcode !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(qrcode)) return null;
  return { id, token: qrcode };
}
