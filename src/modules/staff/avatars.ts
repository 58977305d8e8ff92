import { createHmac } from 'node:crypto';
import type { KoalaPort } from '../../adapters/koala/port.js';
import type { StoragePort } from '../../adapters/storage/port.js';
import type { Db } from '../../db/client.js';
import { UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { staffRepo } from './repo.js';

/**
 * What a picture is, from its first bytes (never from the answer's Content-Type): JPEG, PNG,
 * GIF or WebP, the formats every phone browser shows. Anything else (an HTML page, a script, an
 * error text served as image/png) is not landed, so our storage never republishes it.
 */
export function sniffImage(b: Buffer): { contentType: string; extension: string } | null {
  const starts = (sig: number[], at = 0) => b.length >= at + sig.length && sig.every((x, i) => b[at + i] === x);
  const ascii = (text: string, at = 0) => starts([...Buffer.from(text, 'latin1')], at);
  if (starts([0xff, 0xd8, 0xff])) return { contentType: 'image/jpeg', extension: 'jpg' };
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { contentType: 'image/png', extension: 'png' };
  if (ascii('GIF87a') || ascii('GIF89a')) return { contentType: 'image/gif', extension: 'gif' };
  if (ascii('RIFF') && ascii('WEBP', 8)) return { contentType: 'image/webp', extension: 'webp' };
  return null;
}

export interface Avatars {
  /** Our URL for a Koala picture ('' when there is none or it cannot be fetched now). */
  urlFor(koalaUrl: string): Promise<string>;
}

/**
 * "落地": a Koala picture is downloaded once, stored under a keyed hash of its content
 * (identical pictures share one file), and served from our storage. The key is an HMAC with a
 * key derived from the service secret: a plain hash of the picture or of its Koala URL could be
 * computed by anyone who has either, and would find a face in our storage (PIPL). The source
 * URL → key mapping lives in the database so no replica downloads the same picture again.
 */
export function createAvatars(deps: { db: Db; koala: KoalaPort; storage: StoragePort; logger: Logger; now: () => number; secret: string }): Avatars {
  const inflight = new Map<string, Promise<string>>();
  const keyKey = createHmac('sha256', deps.secret).update('laifang/avatar-key/v1').digest();

  async function land(koalaUrl: string): Promise<string> {
    const known = await staffRepo.landedKey(deps.db, koalaUrl);
    if (known !== null) return deps.storage.browserUrl(known);
    let image: { contentType: string; body: Buffer };
    try {
      image = await deps.koala.fetchImage(koalaUrl);
    } catch (err) {
      // The page still works without a picture; the next request tries again.
      deps.logger.warn({ err, url: koalaUrl }, 'avatar could not be fetched from Koala');
      return '';
    }
    const kind = sniffImage(image.body);
    if (!kind) {
      deps.logger.warn(
        { url: koalaUrl, declared: image.contentType, bytes: image.body.length },
        'avatar from Koala is not a JPEG, PNG, GIF or WebP picture: not landed',
      );
      return '';
    }
    const { contentType } = kind;
    const hash = createHmac('sha256', keyKey).update(image.body).digest('hex');
    const key = `avatars/${hash.slice(0, 2)}/${hash}.${kind.extension}`;
    try {
      if (!(await deps.storage.exists(key))) await deps.storage.put(key, image.body, contentType);
    } catch (err) {
      // Our storage failing must not fail the answer: a staff binding has already been made
      // (and its SMS code spent) when its profile is drawn. No picture now; the next request retries.
      if (!(err instanceof UpstreamError)) throw err;
      deps.logger.warn({ err, key }, 'avatar could not be stored');
      return '';
    }
    await staffRepo.recordLanded(deps.db, { sourceUrl: koalaUrl, storageKey: key, contentType, bytes: image.body.length, landedAt: new Date(deps.now()) });
    return deps.storage.browserUrl(key);
  }

  return {
    async urlFor(koalaUrl) {
      if (!koalaUrl) return '';
      let pending = inflight.get(koalaUrl);
      if (!pending) {
        pending = land(koalaUrl).finally(() => inflight.delete(koalaUrl));
        inflight.set(koalaUrl, pending);
      }
      return pending;
    },
  };
}
