import { expect } from 'vitest';
import { AppError, UpstreamError } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/log.js';

/** A logger whose lines the test can read (to check what is, and is not, logged). */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('debug', { write: (s: string) => void lines.push(s) }), lines };
}

/** The error a client call failed with; fails the test if it succeeded or threw something else. */
export async function failure<E extends AppError = UpstreamError>(p: Promise<unknown>, type: new (...args: never[]) => E = UpstreamError as never): Promise<E> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error('expected a failure');
}
