/**
 * Where landed files (avatars) live: a local directory served by this service, or an
 * S3-compatible bucket (Aliyun OSS, MinIO). Keys are relative paths such as
 * `avatars/ab/abcdef….png`.
 */
export interface StoragePort {
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Removes the file; removing one that is not there succeeds. */
  delete(key: string): Promise<void>;
  /** The absolute URL of the file, for a store browsers may read directly. */
  publicUrl(key: string): string;
  /**
   * The URL to hand to a browser now: the public URL, or for a private bucket a short-lived
   * signed one (S3_PRIVATE), so a leaked link stops working.
   */
  browserUrl(key: string): Promise<string>;
}
