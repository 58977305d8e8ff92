import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solidPng } from '../../src/adapters/koala/demo-data.js';
import { createLocalStorage } from '../../src/adapters/storage/local.js';
import { createS3Storage } from '../../src/adapters/storage/s3.js';
import { AppError, UpstreamError } from '../../src/errors.js';

const png = solidPng([10, 200, 30]);
const BAD_KEYS = ['', '/etc/passwd', '../outside.png', 'avatars/../../x.png', 'avatars//x.png', 'avatars/./x.png', 'a\\b.png', 'avatars/x y.png', 'avatars/'];

describe('local storage', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'laifang-local-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('puts a file atomically under the directory, and says it exists', async () => {
    const storage = createLocalStorage({ dir, publicBaseUrl: 'http://127.0.0.1:3000/' });
    const key = 'avatars/ab/abcdef0123.png';
    expect(await storage.exists(key)).toBe(false);
    await storage.put(key, png, 'image/png');
    expect(await storage.exists(key)).toBe(true);
    expect((await readFile(join(dir, 'avatars', 'ab', 'abcdef0123.png'))).equals(png)).toBe(true);
    expect((await readdir(join(dir, 'avatars', 'ab'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await storage.put(key, png, 'image/png'); // same content again: fine
    expect(storage.publicUrl(key)).toBe('http://127.0.0.1:3000/files/avatars/ab/abcdef0123.png');
  });

  it('a directory is not a file', async () => {
    const storage = createLocalStorage({ dir, publicBaseUrl: 'http://x' });
    await mkdir(join(dir, 'adir'), { recursive: true });
    expect(await storage.exists('adir')).toBe(false);
  });

  it('refuses keys that are not plain relative paths', async () => {
    const storage = createLocalStorage({ dir, publicBaseUrl: 'http://x' });
    for (const key of BAD_KEYS) {
      await expect(storage.put(key, png, 'image/png'), key).rejects.toBeInstanceOf(AppError);
      await expect(storage.exists(key), key).rejects.toBeInstanceOf(AppError);
      expect(() => storage.publicUrl(key), key).toThrow(AppError);
    }
    expect(await readdir(join(dir, '..'))).not.toContain('outside.png');
  });

  it('a write that fails is an UpstreamError from storage', async () => {
    const blocker = join(dir, 'blocked');
    await writeFile(blocker, 'a file where a directory should be');
    const storage = createLocalStorage({ dir, publicBaseUrl: 'http://x' });
    const err = await storage.put('blocked/x.png', png, 'image/png').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).system).toBe('storage');
  });
});

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
// s3rver ships no type declarations.
const S3rver = createRequire(import.meta.url)('s3rver') as new (opts: Record<string, unknown>) => S3rverInstance;

describe('S3 storage (s3rver)', () => {
  const bucket = 'laifang-test';
  let dir: string;
  let server: S3rverInstance;
  let endpoint: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'laifang-s3rver-'));
    server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket, configs: [] }] });
    const address = await server.run();
    endpoint = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const storage = (extra: { publicUrl?: string; bucket?: string } = {}) =>
    createS3Storage({
      endpoint,
      region: 'us-east-1',
      bucket: extra.bucket ?? bucket,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
      publicUrl: extra.publicUrl,
      timeoutMs: 2000,
    });

  it('puts an object with its type and a long cache lifetime, and says it exists', async () => {
    const s3 = storage();
    const key = 'avatars/cd/cdef4567.png';
    expect(await s3.exists(key)).toBe(false);
    await s3.put(key, png, 'image/png');
    expect(await s3.exists(key)).toBe(true);
    expect(s3.publicUrl(key)).toBe(`${endpoint}/${bucket}/${key}`);
    const res = await fetch(s3.publicUrl(key));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('cache-control')).toContain('max-age=31536000');
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
  });

  it('uses S3_PUBLIC_URL when given', () => {
    expect(storage({ publicUrl: 'https://cdn.example.com/' }).publicUrl('avatars/x.png')).toBe('https://cdn.example.com/avatars/x.png');
  });

  it('derives virtual-hosted URLs for Aliyun OSS style endpoints', () => {
    const oss = createS3Storage({
      endpoint: 'https://oss-cn-hangzhou.aliyuncs.com',
      region: 'oss-cn-hangzhou',
      bucket: 'laifang',
      accessKeyId: 'a',
      secretAccessKey: 'b',
      forcePathStyle: false,
    });
    expect(oss.publicUrl('avatars/x.png')).toBe('https://laifang.oss-cn-hangzhou.aliyuncs.com/avatars/x.png');
  });

  it('refuses bad keys', async () => {
    for (const key of BAD_KEYS) await expect(storage().put(key, png, 'image/png'), key).rejects.toBeInstanceOf(AppError);
  });

  it('a missing bucket is UPSTREAM_FAILED; an unreachable store is UPSTREAM_UNAVAILABLE', async () => {
    const missing = await storage({ bucket: 'no-such-bucket' })
      .put('avatars/x.png', png, 'image/png')
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UpstreamError);
    expect((missing as UpstreamError).code).toBe('UPSTREAM_FAILED');
    const down = createS3Storage({
      endpoint: 'http://127.0.0.1:1',
      region: 'us-east-1',
      bucket,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
      timeoutMs: 1000,
    });
    const err = await down.exists('avatars/x.png').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('UPSTREAM_UNAVAILABLE');
  });
});
