import type { Config } from '../../config.js';
import type { Database, Db } from '../../db/client.js';
import type { Logger } from '../../log.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import { checkPass } from './check.js';
import type { KoalaSync } from './koala-sync.js';
import { createPassViews, type LinkedPassView, type SigninView } from './pass-views.js';
import type { PassKeys } from './passes.js';
import { signin } from './signin.js';
import { signout, sweepEnded, type SignoutOptions, type SignoutView } from './signout.js';

export type { LinkedPassView, PassView, SigninView } from './pass-views.js';
export type { SignoutView } from './signout.js';

export interface VisitsDeps {
  database: Database;
  koalaSync: KoalaSync;
  audit: Audit;
  keys: PassKeys;
  logger: Logger;
  now: () => number;
  /** The template ids in force (admin overrides over the environment), read in the sign-in's transaction. */
  templates: (tx: Db) => Promise<Config['templates']>;
  publicUrl: string;
  signinLeadMinutes: number;
}

export type Actor = AuditEntry['actor'];

/** The front desk's operations (docs/api-contract-frontdesk.md); each file holds one. */
export interface Visits {
  signin(device: Actor, phone: string): Promise<SigninView>;
  /** `hostPhone`: a phone session may only check out its own visitors (others: 404). */
  signout(actor: Actor, id: number, opts?: SignoutOptions): Promise<SignoutView>;
  /** The turnstile: the person admitted, or PASS_INVALID / PASS_NOT_YET_VALID / PASS_EXPIRED. */
  check(qrcode: string): Promise<{ id: number; name: string; end_time: number }>;
  /** The QR content of a pass for its picture; null when the URL is not one we gave out or the pass is revoked. */
  passForImage(passId: number, key: string): Promise<string | null>;
  /** The pass a short code opens (the SMS link): 'gone' once it no longer admits, null for no such code. */
  passByLink(code: string): Promise<LinkedPassView | 'gone' | null>;
  /** Checks out visits whose window has ended; returns how many. */
  sweepEnded(limit?: number): Promise<number>;
  /** The pass `phone` holds for the visit while it is not revoked, or null (the visit's page shows it). */
  holderPass(applicationId: number, phone: string): Promise<{ qrcode: string; qrcode_img_url: string } | null>;
}

export function createVisits(deps: VisitsDeps): Visits {
  const views = createPassViews({ db: deps.database.db, keys: deps.keys, logger: deps.logger, publicUrl: deps.publicUrl, now: deps.now });
  return {
    signin: (device, phone) => signin({ ...deps, views }, device, phone),
    signout: (actor, id, opts) => signout(deps, actor, id, opts),
    check: (qrcode) => checkPass(deps.database, deps.now, qrcode),
    passForImage: (passId, key) => views.forImage(passId, key),
    passByLink: (code) => views.byLink(code),
    sweepEnded: (limit = 100) => sweepEnded(deps, limit),
    holderPass: (applicationId, phone) => views.holderPass(applicationId, phone),
  };
}
