import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { hashToken, parseQrContent } from './passes.js';
import { visitRepo } from './repo.js';

/**
 * The turnstile: the person a scanned pass admits now, or PASS_INVALID (unknown, forged or not
 * ours), PASS_EXPIRED (revoked, checked out, window over) or PASS_NOT_YET_VALID. One indexed read
 * and no outside call, so the door works while Koala or the cloud service is down.
 */
export async function checkPass(database: Database, now: () => number, qrcode: string): Promise<{ id: number; name: string; end_time: number }> {
  const parsed = parseQrContent(qrcode);
  if (!parsed) throw new AppError('PASS_INVALID');
  const row = await visitRepo.checkPass(database, hashToken(parsed.token));
  // Unknown and forged look the same to the reader.
  if (!row || Number(row.application_id) !== parsed.id) throw new AppError('PASS_INVALID');
  const nowSeconds = Math.floor(now() / 1000);
  if (row.revoked_at !== null || row.signout_time !== null || nowSeconds >= Number(row.end_time)) throw new AppError('PASS_EXPIRED');
  if (nowSeconds < Number(row.start_time)) throw new AppError('PASS_NOT_YET_VALID');
  return { id: parsed.id, name: row.name, end_time: Number(row.end_time) };
}
