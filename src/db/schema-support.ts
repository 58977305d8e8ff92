import { bigint, bigserial, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, varchar } from 'drizzle-orm/pg-core';

/*
 * The tables no application row references: verification codes, what Koala told us, landed
 * pictures, small named values, redeemed OAuth codes, shared counters, devices, admins, the
 * audit log and run-time settings. src/db/schema.ts re-exports them with the rest.
 */

/** SMS verification codes (3.0); only a keyed hash of the code is kept. */
export const smsCodes = pgTable(
  'sms_codes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    phone: varchar('phone', { length: 11 }).notNull(),
    codeHash: varchar('code_hash', { length: 64 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    wrongTries: smallint('wrong_tries').notNull().default(0),
    spentAt: timestamp('spent_at', { withTimezone: true }),
  },
  (t) => [index('sms_codes_phone_created_idx').on(t.phone, t.createdAt.desc())],
);

/**
 * What Koala told us about an employee, by phone (Koala cannot search by phone). Pages keep
 * working from here while Koala is down; `avatar_key` is the landed picture in our storage.
 */
export const staffCache = pgTable(
  'staff_cache',
  {
    phone: varchar('phone', { length: 11 }).primaryKey(),
    subjectId: integer('subject_id').notNull(),
    name: varchar('name', { length: 64 }).notNull(),
    department: varchar('department', { length: 128 }).notNull().default(''),
    koalaAvatarUrl: text('koala_avatar_url').notNull().default(''),
    refreshedAt: timestamp('refreshed_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('staff_cache_subject_idx').on(t.subjectId)],
);

/** Pictures landed from Koala: one download per source URL, stored under a content hash. */
export const landedFiles = pgTable('landed_files', {
  sourceUrl: text('source_url').primaryKey(),
  storageKey: text('storage_key').notNull(),
  contentType: varchar('content_type', { length: 64 }).notNull(),
  bytes: integer('bytes').notNull(),
  landedAt: timestamp('landed_at', { withTimezone: true }).notNull(),
});

/** Small named values: the generated session secret, cached purposes, the last Koala directory scan. */
export const appState = pgTable('app_state', {
  key: varchar('key', { length: 64 }).primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
});

/**
 * WeChat OAuth codes already exchanged for a session (a keyed hash): a code works once here,
 * whatever the OAuth endpoint does. Rows older than a day are swept (codes live 5 minutes).
 */
export const redeemedOAuthCodes = pgTable(
  'redeemed_oauth_codes',
  {
    codeHash: varchar('code_hash', { length: 64 }).primaryKey(),
    redeemedAt: timestamp('redeemed_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('redeemed_oauth_codes_at_idx').on(t.redeemedAt)],
);

/**
 * Phone sessions ended early, per WeChat openid: a session token issued (`iat`, database clock,
 * milliseconds) at or before `revoked_before` is refused. Every replica keeps the rows of the
 * last SESSION_TTL in memory and reads the ones changed since its last look every 2 s (the
 * index); older rows no longer matter (every token they end has expired) and are swept.
 */
export const sessionRevocations = pgTable(
  'session_revocations',
  {
    weixinUserId: varchar('weixin_user_id', { length: 128 }).primaryKey(),
    revokedBefore: bigint('revoked_before', { mode: 'number' }).notNull(),
  },
  (t) => [index('session_revocations_at_idx').on(t.revokedBefore)],
);

/** Fixed-window counters shared by every replica (per-address request limit). */
export const rateCounters = pgTable(
  'rate_counters',
  {
    bucket: varchar('bucket', { length: 160 }).notNull(),
    windowStart: bigint('window_start', { mode: 'number' }).notNull(),
    hits: integer('hits').notNull(),
  },
  (t) => [primaryKey({ columns: [t.bucket, t.windowStart] }), index('rate_counters_window_idx').on(t.windowStart)],
);

/** Kiosks and turnstile readers. Only a SHA-256 of the 256-bit token is kept. */
export const devices = pgTable('devices', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  name: varchar('name', { length: 64 }).notNull(),
  /** 'kiosk' | 'turnstile' */
  kind: varchar('kind', { length: 16 }).notNull(),
  tokenHash: varchar('token_hash', { length: 64 }).notNull().unique('devices_token_hash_key'),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  /** Set at revocation: the token stops working at once. */
  revokedAt: bigint('revoked_at', { mode: 'number' }),
});

/**
 * Admin accounts. `password_hash` is `scrypt$N$r$p$salt$hash` (parameters recorded per row, so
 * they can be raised later without breaking old hashes). `session_version` is in every admin
 * token; bumping it (password change) ends every session at once.
 */
export const admins = pgTable('admins', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  username: varchar('username', { length: 64 }).notNull().unique('admins_username_key'),
  passwordHash: text('password_hash').notNull(),
  sessionVersion: integer('session_version').notNull().default(0),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});

/** Who did what: every admin change, authorization, sign-in and check-out (append-only). */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** Unix seconds. */
    at: bigint('at', { mode: 'number' }).notNull(),
    actorKind: varchar('actor_kind', { length: 16 }).notNull(),
    actorId: varchar('actor_id', { length: 128 }).notNull(),
    action: varchar('action', { length: 64 }).notNull(),
    targetType: varchar('target_type', { length: 32 }).notNull(),
    targetId: varchar('target_id', { length: 128 }).notNull(),
    detail: jsonb('detail').notNull().default({}),
  },
  (t) => [index('audit_log_at_idx').on(t.at.desc(), t.id.desc()), index('audit_log_target_idx').on(t.targetType, t.targetId)],
);

/** Settings an admin changes at run time (servers, template overrides): one JSON value per key. */
export const settings = pgTable('settings', {
  key: varchar('key', { length: 64 }).primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});
