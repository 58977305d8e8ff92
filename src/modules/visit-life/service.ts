import type { Config } from '../../config.js';
import type { Database, Db, SqlExecutor } from '../../db/client.js';
import type { Logger } from '../../log.js';
import type { PageCache } from '../applications/page-cache.js';
import type { VisitWindowLimits } from '../applications/validate.js';
import type { Audit } from '../audit/service.js';
import { createChanges, type Changes } from './changes.js';
import { createDetail, type Detail } from './detail.js';
import { sweepUndecided } from './expire.js';

/** A pass as its holder sees it on the visit's page. */
export interface HolderPass {
  qrcode: string;
  qrcode_img_url: string;
}

export interface LifeDeps {
  database: Database;
  audit: Audit;
  /** Deletes what Koala holds for the passes of a cancelled visit (jobs inserted in the transaction). */
  koalaSync: { enqueue(executor: SqlExecutor, jobs: Array<{ passId: number; op: 'delete'; subjectId?: number }>): Promise<void> };
  /** The valid pass `phone` holds for the visit, or null. */
  holderPass(applicationId: number, phone: string): Promise<HolderPass | null>;
  /** The template ids in force, read inside the transaction that writes the outbox rows. */
  templates: (tx: Db) => Promise<Config['templates']>;
  /** `https://host`: messages link to `/h5/#/visit/{id}`. */
  publicUrl: string;
  visitWindow: VisitWindowLimits;
  pages?: PageCache;
  logger: Logger;
  now: () => number;
}

/** A visit's life after it is made (README.md). */
export interface VisitLife extends Changes {
  detail: Detail;
  /** Expires requests and marks no-shows whose window ended; returns how many it closed. */
  sweepUndecided(limit?: number): Promise<number>;
}

export function createVisitLife(deps: LifeDeps): VisitLife {
  return {
    ...createChanges(deps),
    detail: createDetail(deps),
    sweepUndecided: (limit = 100) => sweepUndecided(deps, limit),
  };
}
