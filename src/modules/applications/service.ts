import type { Config } from '../../config.js';
import type { Database, Db } from '../../db/client.js';
import type { Audit } from '../audit/service.js';
import type { StaffDirectory } from '../staff/directory.js';
import type { Purposes } from '../staff/purposes.js';
import { createApply, type Apply } from './apply.js';
import { createHostMisses, type HostMissLimits } from './host-misses.js';
import { createAuthorize, type Authorize } from './authorize.js';
import { createIdempotencyKeys } from './idempotency.js';
import { createPageJson, type PageJson } from './list.js';
import type { VisitWindowLimits } from './validate.js';
import type { PageCache } from './page-cache.js';
import { createApplicationWriter } from './writer.js';

export interface ApplicationsDeps {
  database: Database;
  staff: StaffDirectory;
  purposes: Purposes;
  templates: Config['templates'];
  /** Template ids in force (admin overrides over `templates`), read inside the transaction. */
  templateSource?: (tx: Db) => Promise<Config['templates']>;
  /** Records the authorization of an application (`application.authorize`) with it. */
  audit?: Audit;
  recordsUrl: string;
  applyPerHour: number;
  /** The longest visit window and how far ahead it may start (every application passes them). */
  visitWindow: VisitWindowLimits;
  /** Visitor requests naming a host Koala does not confirm (and the secret their keys derive from). */
  hostMisses: HostMissLimits;
  secret: string;
  /** Record-list pages; this process's own writes invalidate their phones as soon as they commit. */
  pages?: PageCache;
  now: () => number;
}

/** The operations of 3.7 and 3.9–3.11 (README.md). */
export interface Applications {
  apply: Apply;
  pageJson: PageJson;
  authorize: Authorize;
}

export function createApplications(deps: ApplicationsDeps): Applications {
  const { database, pages, now, recordsUrl } = deps;
  const templates = (tx: Db) => (deps.templateSource ? deps.templateSource(tx) : Promise.resolve(deps.templates));
  return {
    apply: createApply({
      database,
      staff: deps.staff,
      purposes: deps.purposes,
      templates: () => templates(database.db),
      recordsUrl,
      perHour: deps.applyPerHour,
      visitWindow: deps.visitWindow,
      audited: deps.audit !== undefined,
      pages,
      now,
      writer: createApplicationWriter({ database, perHour: deps.applyPerHour, now }),
      keys: createIdempotencyKeys({ db: database.db, now }),
      hostMisses: createHostMisses({ database, secret: deps.secret, limits: deps.hostMisses, now }),
    }),
    pageJson: createPageJson({ database, pages }),
    authorize: createAuthorize({ database, templates, recordsUrl, audit: deps.audit, pages, now }),
  };
}
