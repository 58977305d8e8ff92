import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { UpstreamError } from '../../errors.js';
import { statusError } from '../http.js';
import type { Config } from '../../config.js';
import { assertValidKey } from './local.js';
import type { StoragePort } from './port.js';

/**
 * The S3 settings of the configuration (endpoint omitted = AWS; `publicUrl` derived when
 * omitted; path-style for MinIO and s3rver, virtual-hosted for Aliyun OSS; a private bucket gets
 * presigned GET URLs valid `signedUrlTtlSeconds`, default 900), and a per-request deadline
 * (default 10 s).
 */
export type S3StorageOptions = Omit<Extract<Config['storage'], { driver: 's3' }>, 'driver' | 'private' | 'signedUrlTtlSeconds'> & {
  private?: boolean;
  signedUrlTtlSeconds?: number;
  timeoutMs?: number;
};

/** Keys are content hashes: a key's bytes never change, so browsers may keep them for a year. */
const CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** A private object must not sit in shared caches (CDN, proxies) beyond its signed URL. */
const PRIVATE_CACHE_CONTROL = 'private, max-age=31536000, immutable';

export function createS3Storage(opts: S3StorageOptions): StoragePort {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const client = new S3Client({
    region: opts.region,
    endpoint: opts.endpoint,
    forcePathStyle: opts.forcePathStyle,
    credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
    // Recent SDKs add CRC32 checksums to every request by default; S3-compatible stores
    // (Aliyun OSS, older MinIO) reject or mishandle them. Only send them where S3 requires.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: Math.min(timeoutMs, 5_000), requestTimeout: timeoutMs },
    maxAttempts: 2,
  });
  const base = publicBase(opts);

  return {
    async put(key, body, contentType) {
      assertValidKey(key);
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: opts.bucket,
            Key: key,
            Body: body,
            ContentType: contentType,
            CacheControl: opts.private ? PRIVATE_CACHE_CONTROL : CACHE_CONTROL,
          }),
        );
      } catch (err) {
        throw toUpstream(err, `PUT ${key}`);
      }
    },

    async exists(key) {
      assertValidKey(key);
      try {
        await client.send(new HeadObjectCommand({ Bucket: opts.bucket, Key: key }));
        return true;
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return false;
        throw toUpstream(err, `HEAD ${key}`);
      }
    },

    async delete(key) {
      assertValidKey(key);
      try {
        // S3 answers 204 for a key that is not there as well.
        await client.send(new DeleteObjectCommand({ Bucket: opts.bucket, Key: key }));
      } catch (err) {
        throw toUpstream(err, `DELETE ${key}`);
      }
    },

    publicUrl(key) {
      assertValidKey(key);
      return `${base}/${key}`;
    },

    async browserUrl(key) {
      if (!opts.private) return this.publicUrl(key);
      assertValidKey(key);
      // Signing is local (no request to the store): the URL carries its own expiry and signature.
      return getSignedUrl(client, new GetObjectCommand({ Bucket: opts.bucket, Key: key }), { expiresIn: opts.signedUrlTtlSeconds ?? 900 });
    },
  };
}

/** Where objects are publicly readable: S3_PUBLIC_URL, else the bucket's own address. */
function publicBase(opts: S3StorageOptions): string {
  if (opts.publicUrl) return opts.publicUrl.replace(/\/+$/, '');
  const endpoint = new URL(opts.endpoint ?? `https://s3.${opts.region}.amazonaws.com`);
  const path = endpoint.pathname.replace(/\/+$/, '');
  if (opts.forcePathStyle) return `${endpoint.protocol}//${endpoint.host}${path}/${opts.bucket}`;
  return `${endpoint.protocol}//${opts.bucket}.${endpoint.host}${path}`;
}

/** An answer with a status maps like any HTTP answer; no answer at all is UNAVAILABLE. */
function toUpstream(err: unknown, what: string): UpstreamError {
  const e = err as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) {
    const mapped = statusError('storage', status, `${what} (${e.name ?? 'error'})`);
    return new UpstreamError('storage', mapped.code as 'UPSTREAM_FAILED' | 'UPSTREAM_UNAVAILABLE', `${what}: HTTP ${status} ${e.name ?? ''}`.trim(), {
      transient: mapped.transient,
      providerCode: e.name,
      cause: err,
    });
  }
  return new UpstreamError('storage', 'UPSTREAM_UNAVAILABLE', `${what}: ${e.code ?? e.name ?? 'no answer'}`, { cause: err });
}
