/**
 * Where landed files (avatars) live: a local directory served by this service, or an
 * S3-compatible bucket (Aliyun OSS, MinIO). Keys are relative paths such as
 * `avatars/ab/abcdef….png`.
 */
export interface StoragePort {
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** The absolute URL a browser can load the file from. */
  publicUrl(key: string): string;
}
