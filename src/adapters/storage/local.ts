import { randomBytes } from 'node:crypto';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { AppError, UpstreamError } from '../../errors.js';
import type { StoragePort } from './port.js';

export interface LocalStorageOptions {
  /** Directory the service serves at `/files/`. */
  dir: string;
  /** Base of the URLs handed out (PUBLIC_URL). */
  publicBaseUrl: string;
}

const KEY_CHARS = /^[A-Za-z0-9._\-/]+$/;

/**
 * Storage keys are relative paths of safe characters (`avatars/ab/abcdef….png`). Anything
 * else would let a key escape the directory or the bucket prefix, or need URL escaping; a
 * bad key is a bug in the caller, hence INTERNAL.
 */
export function assertValidKey(key: string): void {
  const segments = key.split('/');
  const bad = key.length === 0 || key.length > 512 || !KEY_CHARS.test(key) || key.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..');
  if (bad) throw new AppError('INTERNAL', undefined, { detail: `storage: invalid key ${JSON.stringify(key.slice(0, 100))}` });
}

/** Files under a local directory, written atomically so a reader never sees half a file. */
export function createLocalStorage(opts: LocalStorageOptions): StoragePort {
  const root = resolve(opts.dir);
  const base = opts.publicBaseUrl.replace(/\/+$/, '');

  function pathOf(key: string): string {
    assertValidKey(key);
    const full = join(root, ...key.split('/'));
    // Belt and braces after the key check: never touch anything outside the root.
    if (!full.startsWith(root + sep)) throw new AppError('INTERNAL', undefined, { detail: `storage: key ${JSON.stringify(key)} leaves the directory` });
    return full;
  }

  return {
    async put(key, body, _contentType) {
      const target = pathOf(key);
      // The temporary file sits beside the target so that rename stays on one file system.
      const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await mkdir(dirname(target), { recursive: true });
        await writeFile(tmp, body);
        await rename(tmp, target);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw new UpstreamError('storage', 'UPSTREAM_FAILED', `writing ${key} failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
          transient: true,
          cause: err,
        });
      }
    },

    async exists(key) {
      const target = pathOf(key);
      try {
        return (await stat(target)).isFile();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return false;
        throw new UpstreamError('storage', 'UPSTREAM_FAILED', `checking ${key} failed: ${code ?? String(err)}`, { transient: true, cause: err });
      }
    },

    async delete(key) {
      const target = pathOf(key);
      try {
        await unlink(target);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw new UpstreamError('storage', 'UPSTREAM_FAILED', `deleting ${key} failed: ${code ?? String(err)}`, { transient: true, cause: err });
      }
    },

    publicUrl(key) {
      assertValidKey(key);
      return `${base}/files/${key}`;
    },

    // Served by this service under unguessable keys (HMAC, see modules/staff/avatars.ts).
    async browserUrl(key) {
      return this.publicUrl(key);
    },
  };
}
