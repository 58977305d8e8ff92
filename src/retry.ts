import { UpstreamError } from './errors.js';

/**
 * Seconds before the next try after `attempts` failed ones: `firstSeconds` doubling per attempt
 * up to `maxSeconds` (so a retry follows an outage's end within that ceiling), ±20 % jitter.
 */
export function backoffSeconds(attempts: number, firstSeconds: number, maxSeconds: number): number {
  return Math.min(firstSeconds * 2 ** Math.max(0, attempts - 1), maxSeconds) * (0.8 + Math.random() * 0.4);
}

/** What a failed try is recorded with: an outside system's own words when it gave any. */
export function failureReason(err: unknown): string {
  return err instanceof UpstreamError ? (err.detail ?? err.message) : err instanceof Error ? err.message : String(err);
}
