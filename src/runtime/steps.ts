import type { Config } from '../config.js';
import type { Metrics } from '../http/metrics.js';
import type { Logger } from '../log.js';

/** What every start-up step gets (src/runtime.ts runs them in order). */
export interface Step {
  config: Config;
  logger: Logger;
  now: () => number;
  closers: Closers;
  /** GET /metrics and what feeds it; null with METRICS off. */
  metrics: Metrics | null;
}

/**
 * How to undo what the steps started, in reverse order of start: the app stops taking requests
 * before the services and workers it calls stop, and those before the database closes.
 */
export class Closers {
  private readonly list: Array<() => Promise<void>> = [];
  private closingNow = false;

  constructor(private readonly logger: Logger) {}

  add(close: () => Promise<void>): void {
    this.list.push(close);
  }

  /** True once close() began: a lost connection is then expected, not worth a warning. */
  get closing(): boolean {
    return this.closingNow;
  }

  /** Runs every closer, newest first; a failing one is logged and the rest still run. */
  async close(): Promise<void> {
    this.closingNow = true;
    for (const c of this.list.reverse()) await c().catch((err: unknown) => this.logger.warn({ err }, 'shutdown step failed'));
  }
}
