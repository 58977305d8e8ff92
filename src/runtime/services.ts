import type { Database } from '../db/client.js';
import type { Queue } from '../db/queue.js';
import { PageCache, RECORDS_CHANNEL } from '../modules/applications/page-cache.js';
import { createApplications, type Applications } from '../modules/applications/service.js';
import { createAudit, type Audit } from '../modules/audit/service.js';
import { createBindings, type Bindings } from '../modules/binding/service.js';
import { createIdentity, type Identity } from '../modules/identity/service.js';
import { createRedeemedCodes, type RedeemedCodes } from '../modules/session/redeemed-codes.js';
import { startSessionRevocations, type SessionRevocations } from '../modules/session/revocations.js';
import { createSessionEnder, type SessionEnder } from '../modules/session/service.js';
import { createSessionTokens, type SessionTokens } from '../modules/session/tokens.js';
import { createSmsCodes, type SmsCodes } from '../modules/sms-codes/service.js';
import { createAvatars } from '../modules/staff/avatars.js';
import { createStaffDirectory } from '../modules/staff/directory.js';
import { createPurposes, type Purposes } from '../modules/staff/purposes.js';
import { startKoalaSync, type KoalaSync } from '../modules/visits/koala-sync.js';
import { createPassKeys } from '../modules/visits/passes.js';
import { createVisits, type Visits } from '../modules/visits/service.js';
import { startVisitSweep } from '../modules/visits/sweep.js';
import { createVisitLife, type VisitLife } from '../modules/visit-life/service.js';
import type { Ports } from './ports.js';
import type { Step } from './steps.js';

export interface Services {
  tokens: SessionTokens;
  redeemedCodes: RedeemedCodes;
  /** Sessions ended early, and ending them (audited). */
  revocations: SessionRevocations;
  sessionEnder: SessionEnder;
  identity: Identity;
  bindings: Bindings;
  smsCodes: SmsCodes;
  purposes: Purposes;
  audit: Audit;
  applications: Applications;
  /** The record-list page cache. */
  pages: PageCache;
}

/** The features of the phone pages: sessions, bindings, staff, SMS codes, applications. */
export async function servicesStep(step: Step, database: Database, ports: Ports, secret: string): Promise<Services> {
  const { config, logger, now, closers } = step;
  const db = database.db;
  const tokens = createSessionTokens(secret, config.sessionTtlSeconds);
  const redeemedCodes = createRedeemedCodes({ db, secret, now });
  const revocations = await startSessionRevocations({ db, logger, ttlSeconds: config.sessionTtlSeconds });
  closers.add(() => revocations.stop());
  const audit = createAudit({ db, now });
  const sessionEnder = createSessionEnder({ db, audit, revocations });
  const identity = createIdentity({ cloud: ports.cloud, now });
  const staff = createStaffDirectory({
    db,
    koala: ports.koala,
    logger,
    now,
    cacheSeconds: config.koalaCacheSeconds,
    refreshSeconds: config.koalaStaffRefreshSeconds,
  });
  const avatars = createAvatars({ db, koala: ports.koala, storage: ports.storage, logger, now, secret });
  const purposes = createPurposes({ db, koala: ports.koala, logger, now, cacheSeconds: config.koalaCacheSeconds });
  const template = async () => (await ports.templates.current()).sms.verification_code;
  const smsCodes = createSmsCodes({ db, sms: ports.sms, template, secret, logger, now, limits: config.smsCodes });
  const bindings = createBindings({ cloud: ports.cloud, identity, staff, avatars, smsCodes, sessions: sessionEnder, verifyPhone: config.bindVerifyPhone });
  const pages = await recordPages(step, database);
  const applications = createApplications({
    pages,
    database,
    staff,
    purposes,
    templates: config.templates,
    templateSource: (tx) => ports.templates.current(tx),
    audit,
    recordsUrl: `${config.publicUrl}/h5/#/records`,
    applyPerHour: config.applyPerHour,
    visitWindow: config.visitWindow,
    hostMisses: config.hostMisses,
    secret,
    now,
  });
  return { tokens, redeemedCodes, revocations, sessionEnder, identity, bindings, smsCodes, purposes, audit, applications, pages };
}

/**
 * Record-list pages, invalidated by the database's notifications (migration 0003): served only
 * while this replica is listening.
 */
async function recordPages(step: Step, database: Database): Promise<PageCache> {
  const { config, logger, now, closers } = step;
  const pages = new PageCache({ maxBytes: config.recordsCache.maxBytes, ttlMs: config.recordsCache.ttlSeconds * 1000, now });
  if (config.recordsCache.maxBytes > 0) {
    const listener = await database.listen(
      RECORDS_CHANNEL,
      (payload) => pages.onNotification(payload),
      (on) => {
        pages.setEnabled(on);
        if (!on && !closers.closing) logger.warn('records cache off: the database notification connection is down');
      },
    );
    closers.add(() => listener.close());
  }
  return pages;
}

/** Front desk: Koala visitors written and deleted by a job, sign-in, turnstile, check-out. */
export async function frontDeskStep(
  step: Step,
  deps: { database: Database; queue: Queue; ports: Ports; audit: Audit; secret: string; pages: PageCache },
): Promise<{ visits: Visits; koalaSync: KoalaSync; life: VisitLife }> {
  const { config, logger, now, closers } = step;
  const { database, ports } = deps;
  const koalaSync = await startKoalaSync({
    database,
    queue: deps.queue,
    koala: ports.koala,
    logger,
    now,
    pollingIntervalSeconds: config.notify.pollingIntervalSeconds,
    retryDelaySeconds: config.notify.retryDelaySeconds,
    maxRetryDelaySeconds: config.notify.maxRetryDelaySeconds,
    createRetryLimit: config.notify.retryLimit,
    leaseSeconds: Math.ceil((config.koala?.timeoutMs ?? 5000) / 1000) * 2 + 5,
    expireInSeconds: config.notify.expireInSeconds,
  });
  closers.add(() => koalaSync.stop());
  const visits = createVisits({
    database,
    koalaSync,
    audit: deps.audit,
    keys: createPassKeys(deps.secret),
    logger,
    now,
    templates: (tx) => ports.templates.current(tx),
    publicUrl: config.publicUrl,
    signinLeadMinutes: config.visits.signinLeadMinutes,
  });
  const visitSweep = startVisitSweep({ sweep: () => visits.sweepEnded(), intervalSeconds: config.visits.sweepSeconds, logger });
  closers.add(() => visitSweep.stop());
  const life = createVisitLife({
    database,
    audit: deps.audit,
    koalaSync,
    holderPass: (id, phone) => visits.holderPass(id, phone),
    templates: (tx) => ports.templates.current(tx),
    publicUrl: config.publicUrl,
    visitWindow: config.visitWindow,
    pages: deps.pages,
    logger,
    now,
  });
  // Requests nobody decided and visits nobody came to, closed at the end of their window.
  const lifeSweep = startVisitSweep({ sweep: () => life.sweepUndecided(), intervalSeconds: config.visits.sweepSeconds, logger });
  closers.add(() => lifeSweep.stop());
  return { visits, koalaSync, life };
}
