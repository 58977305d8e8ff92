import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, uniqueIndex, varchar } from 'drizzle-orm/pg-core';
import { LIMITS } from '../limits.js';
import {
  smsCodes,
  staffCache,
  landedFiles,
  appState,
  redeemedOAuthCodes,
  sessionRevocations,
  rateCounters,
  devices,
  admins,
  auditLog,
  settings,
} from './schema-support.js';
import { ledgerExportChunks, ledgerExports } from './schema-ledger.js';

export * from './schema-support.js';
export * from './schema-ledger.js';

/**
 * Visit applications (api-contract.md §4). Times the contract exposes are stored as Unix
 * seconds, exactly as they travel; internal bookkeeping uses timestamptz.
 */
export const applications = pgTable(
  'applications',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    subjectType: smallint('subject_type').notNull().default(1),
    /** 'invitation' (staff proposed, authorized at once) or 'request' (visitor proposed). */
    kind: varchar('kind', { length: 16 }).notNull(),
    name: varchar('name', { length: LIMITS.personName }).notNull(),
    phone: varchar('phone', { length: 11 }).notNull(),
    purpose: integer('purpose').notNull().default(0),
    purposeName: varchar('purpose_name', { length: 64 }).notNull().default(''),
    comeFrom: varchar('come_from', { length: LIMITS.company }).notNull().default(''),
    remark: varchar('remark', { length: LIMITS.remark }).notNull().default(''),
    proposer: varchar('proposer', { length: 11 }).notNull(),
    proposerWeixinUserId: varchar('proposer_weixin_user_id', { length: 128 }).notNull(),
    interviewee: varchar('interviewee', { length: 64 }).notNull(),
    intervieweePhone: varchar('interviewee_phone', { length: 11 }).notNull(),
    intervieweeSubjectId: integer('interviewee_subject_id').notNull(),
    startTime: bigint('start_time', { mode: 'number' }).notNull(),
    endTime: bigint('end_time', { mode: 'number' }).notNull(),
    isAuth: smallint('is_auth').notNull(),
    authTime: bigint('auth_time', { mode: 'number' }),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    /** Front desk: first kiosk sign-in and check-out (explicit or at window end), Unix seconds. */
    signinTime: bigint('signin_time', { mode: 'number' }),
    signoutTime: bigint('signout_time', { mode: 'number' }),
    /**
     * How a visit ended other than at the front desk: 'rejected', 'cancelled', 'expired' or
     * 'no_show', written with its audit entry; null while it runs its course.
     */
    outcome: varchar('outcome', { length: 16 }),
    /** Why: the host's reason for a rejection, the canceller's for a cancellation ('' when none). */
    statusReason: varchar('status_reason', { length: LIMITS.statusReason }).notNull().default(''),
    /** How many times its window was changed: every outbox row of the visit carries it (a trigger). */
    revision: integer('revision').notNull().default(0),
    /**
     * The record's `status`, computed by the database from the row itself, so every writer
     * (apply, authorize, sign-in, check-out, the sweeps) keeps it right in the same statement.
     */
    status: varchar('status', { length: 16 })
      .notNull()
      .generatedAlwaysAs(
        sql`coalesce(outcome, case when signout_time is not null then 'checked_out' when signin_time is not null then 'signed_in' when is_auth = 1 then 'approved' else 'pending' end)`,
      ),
  },
  (t) => [
    // The check-out sweep: visits signed in and not yet out, by the end of their window.
    index('applications_open_visits_idx')
      .on(t.endTime)
      .where(sql`${t.signinTime} is not null and ${t.signoutTime} is null`),
    // 3.10: "applications I proposed", newest first, paged.
    index('applications_proposer_created_idx').on(t.proposer, t.createdAt.desc(), t.id.desc()),
    // The expiry sweep: requests and approved visits not yet decided, by the end of their window.
    index('applications_undecided_idx')
      .on(t.endTime)
      .where(sql`${t.outcome} is null and ${t.signinTime} is null`),
    // The admin listing and the ledger export: every application, newest first (keyset pages).
    index('applications_created_idx').on(t.createdAt.desc(), t.id.desc()),
    // Date ranges of the listing, the export and the statistics: windows that overlap [from, to].
    index('applications_window_idx').on(t.endTime, t.startTime),
  ],
);

/**
 * Everyone an application involves: the host, the visitor and each companion (role
 * 'companion' rows are the record's `retinues`, in `position` order). It is also the index
 * behind 3.9 — "applications that involve me and that somebody else proposed" — so that a
 * page of one person's records is read from that person's index entries alone.
 */
export const applicationPeople = pgTable(
  'application_people',
  {
    applicationId: bigint('application_id', { mode: 'number' })
      .notNull()
      .references(() => applications.id, { onDelete: 'cascade' }),
    role: varchar('role', { length: 16 }).notNull(),
    position: smallint('position').notNull(),
    name: varchar('name', { length: 64 }).notNull(),
    phone: varchar('phone', { length: 11 }).notNull(),
    isProposer: boolean('is_proposer').notNull(),
    /** Copied from the application so the index alone orders a person's records. */
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.applicationId, t.position] }),
    index('application_people_involving_idx')
      .on(t.phone, t.createdAt.desc(), t.applicationId.desc())
      .where(sql`NOT ${t.isProposer}`),
  ],
);

/** Idempotency-Key of POST /v1/subject: written in the same transaction as the record. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    owner: varchar('owner', { length: 128 }).notNull(),
    key: varchar('key', { length: 128 }).notNull(),
    requestHash: varchar('request_hash', { length: 64 }).notNull(),
    applicationId: bigint('application_id', { mode: 'number' }),
    response: jsonb('response'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.owner, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);

/**
 * The hourly application limit per caller (APPLY_PER_HOUR): the Unix seconds of the caller's
 * newest applications, ascending, at most APPLY_PER_HOUR of them. The statement that writes
 * applications admits as many as the limit leaves room for among those of the last hour and
 * appends theirs, under the row's lock (ON CONFLICT DO UPDATE sees the newest version), so the
 * limit holds exactly across replicas (src/modules/applications/repo/create-applications.ts).
 * Rows out of the hour go at the retention sweep; a phone's row goes with its erasure.
 */
export const applyWindows = pgTable('apply_windows', {
  phone: varchar('phone', { length: 11 }).primaryKey(),
  appliedAt: bigint('applied_at', { mode: 'number' }).array().notNull(),
  /** How many of its applications the last statement let through (it may carry several of one caller). */
  taken: integer('taken').notNull().default(0),
});

/**
 * One message to one phone over one channel. Created in the application's transaction
 * together with its job; the worker records the outcome here, so a redelivered job never
 * sends twice what was recorded as sent.
 */
export const notifications = pgTable(
  'notifications',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    applicationId: bigint('application_id', { mode: 'number' })
      .notNull()
      .references(() => applications.id, { onDelete: 'cascade' }),
    event: varchar('event', { length: 48 }).notNull(),
    channel: varchar('channel', { length: 8 }).notNull(),
    phone: varchar('phone', { length: 11 }).notNull(),
    template: varchar('template', { length: 64 }).notNull(),
    payload: jsonb('payload').notNull(),
    /** pending → sent | skipped (WeChat not bound) | failed (permanent, or retries exhausted). */
    status: varchar('status', { length: 12 }).notNull().default('pending'),
    /**
     * The outbox (src/jobs/notify-worker.ts): a pending row is sent once `due_at` has passed. A
     * claim moves it on by the lease (NOTIFY_EXPIRE_S), so a row whose sender died comes back;
     * a transient failure moves it on by the back-off.
     */
    dueAt: timestamp('due_at', { withTimezone: true }).notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    providerRef: varchar('provider_ref', { length: 128 }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    /**
     * The application's `revision` when the row was written (set by a trigger): a visit whose
     * window changed tells its people again, and a request sent back to its host is authorized again.
     */
    revision: integer('revision').notNull().default(0),
  },
  // A record's messages are found by the leading column of the dedupe index (there is no index
  // on application_id alone: it cost two index entries more per application).
  (t) => [
    index('notifications_due_idx')
      .on(t.dueAt, t.id)
      .where(sql`status = 'pending'`),
    uniqueIndex('notifications_dedupe_idx').on(t.applicationId, t.event, t.channel, t.phone, t.revision),
  ],
);

/**
 * One QR pass per person of a signed-in visit: the visitor (position 1) and each
 * companion, positions as in application_people. The token is never stored: it is
 * HMAC(server key, token_salt) (docs/api-contract-frontdesk.md "Passes"), so that the kiosk can
 * show it again; `token_hash` (SHA-256 of the token) is what the turnstile looks up. The Koala
 * visitor subject is written and deleted by the koala-sync job; `koala_lease_until` keeps two
 * writers (the sign-in request and the job) from creating the same visitor twice.
 */
export const visitPasses = pgTable(
  'visit_passes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    applicationId: bigint('application_id', { mode: 'number' })
      .notNull()
      .references(() => applications.id, { onDelete: 'cascade' }),
    position: smallint('position').notNull(),
    name: varchar('name', { length: 64 }).notNull(),
    phone: varchar('phone', { length: 11 }).notNull(),
    tokenSalt: varchar('token_salt', { length: 32 }).notNull(),
    tokenHash: varchar('token_hash', { length: 64 }).notNull(),
    subjectId: integer('subject_id'),
    koalaLeaseUntil: bigint('koala_lease_until', { mode: 'number' }),
    koalaAttempts: integer('koala_attempts').notNull().default(0),
    koalaError: text('koala_error'),
    subjectDeletedAt: bigint('subject_deleted_at', { mode: 'number' }),
    revokedAt: bigint('revoked_at', { mode: 'number' }),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    /** SHA-256 of the pass's short code (the SMS link `/p/{code}`); null until a message carried one. */
    linkHash: varchar('link_hash', { length: 64 }),
  },
  (t) => [
    uniqueIndex('visit_passes_token_idx').on(t.tokenHash),
    uniqueIndex('visit_passes_person_idx').on(t.applicationId, t.position),
    uniqueIndex('visit_passes_link_idx').on(t.linkHash),
  ],
);

export const schema = {
  applications,
  applicationPeople,
  idempotencyKeys,
  smsCodes,
  staffCache,
  landedFiles,
  appState,
  redeemedOAuthCodes,
  sessionRevocations,
  rateCounters,
  notifications,
  devices,
  admins,
  auditLog,
  settings,
  visitPasses,
  ledgerExports,
  ledgerExportChunks,
};
export type Schema = typeof schema;
