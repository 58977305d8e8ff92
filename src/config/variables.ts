import { VISIT_WINDOW } from '../limits.js';
import type { Spec } from './kinds.js';
import { abuseLimits } from './limit-variables.js';
import { monitoring } from './monitoring-variables.js';
import { REQUIRED, templates } from './template-variables.js';

/**
 * Every environment variable the service reads, by topic: its kind, default and meaning. The
 * configuration is parsed from these (src/config.ts) and the README's configuration table is
 * generated from them (`npm run docs:config`). Rules that tie several variables together live
 * in src/config/rules.ts.
 */
type Table = Record<string, Spec>;

const server = {
  NODE_ENV: {
    kind: 'text',
    shown: '`development`',
    meaning:
      '`production` refuses simulated integrations, `BIND_VERIFY_PHONE=false` and a missing or weak `SESSION_SECRET`, and hides `/docs`; `test` logs nothing by default.',
  },
  PORT: { kind: 'int', min: 0, max: 65535, default: 3000, meaning: 'The port the service listens on.' },
  HOST: { kind: 'text', default: '127.0.0.1', meaning: 'The address it listens on (`0.0.0.0`: every interface).' },
  PUBLIC_URL: { kind: 'url', shown: '`http://HOST:PORT`', meaning: 'The address users reach; avatars and message links are built on it.' },
  TRUST_PROXY: {
    kind: 'proxies',
    shown: 'false: none',
    meaning:
      'The reverse proxies whose `X-Forwarded-For` is believed, so the per-address limits see the client: `127.0.0.1` behind nginx on this machine. `true` and hop counts are refused.',
  },
  API_DOCS: {
    kind: 'bool',
    default: true,
    shown: 'true (false with `NODE_ENV=production`)',
    meaning: 'Swagger UI at `/docs` and the OpenAPI document at `/docs/json`.',
  },
  LOG_LEVEL: {
    kind: 'text',
    shown: '`info` (`silent` with `NODE_ENV=test`)',
    meaning: 'The pino log level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.',
  },
  CORS_ORIGINS: {
    kind: 'origins',
    shown: 'none: no CORS headers',
    meaning: 'Origins allowed to call the API from a browser, e.g. `https://h5.example.com` (`*` is refused).',
  },
} as const satisfies Table;

const database = {
  DATABASE_URL: {
    kind: 'database-url',
    default: 'pglite://./data/db',
    meaning: '`postgres://user:pass@host:5432/laifang` for PostgreSQL; `pglite://DIR` (or `pglite://memory`) for the embedded database.',
  },
} as const satisfies Table;

const sessionsAndVisits = {
  SESSION_SECRET: {
    kind: 'secret',
    minLength: 32,
    hint: 'try: openssl rand -hex 32',
    shown: 'required with the integrations; simulated: generated once per database',
    meaning: 'Signs session and admin tokens and derives the other keys (`openssl rand -hex 32`); with the integrations a non-random one is refused.',
  },
  SESSION_TTL: {
    kind: 'int',
    min: 60,
    max: 90 * 86_400,
    default: 604_800,
    shown: '604800 (7 days)',
    meaning: 'How long a session token is valid, in seconds.',
  },
  APPLY_PER_HOUR: { kind: 'int', min: 1, max: 100_000, default: 20, meaning: 'Applications one caller may submit in an hour.' },
  MAX_VISIT_HOURS: {
    kind: 'int',
    min: 1,
    max: 744,
    default: VISIT_WINDOW.maxHours,
    meaning: 'The longest visit window an application may ask for, in hours: its passes and Koala visitors last no longer.',
  },
  MAX_DAYS_AHEAD: {
    kind: 'int',
    min: 1,
    max: 366,
    default: VISIT_WINDOW.maxDaysAhead,
    meaning: 'How many days ahead a visit may start (its record is kept until retention after its end).',
  },
  WORK_HOURS_START: { kind: 'int', min: 0, max: 23, default: 9, meaning: 'Working hours start (hour, China time): the form proposes a slot in them.' },
  WORK_HOURS_END: { kind: 'int', min: 1, max: 24, default: 18, meaning: 'Working hours end (hour, China time), after `WORK_HOURS_START`.' },
} as const satisfies Table;

const integrations = {
  UPSTREAM_TIMEOUT_MS: {
    kind: 'int',
    min: 100,
    max: 120_000,
    default: 5000,
    meaning: 'How long a call to the WeChat cloud service, WeChat OAuth or Aliyun SMS may take, in milliseconds.',
  },
  KOALA_URL: { kind: 'url', shown: 'none: simulated', meaning: 'The Koala box (its admin web address).' },
  KOALA_USERNAME: { kind: 'text', shown: REQUIRED, meaning: 'An administrator account of the box.' },
  KOALA_PASSWORD: { kind: 'secret', shown: REQUIRED, meaning: "That account's password." },
  KOALA_TIMEOUT_MS: {
    kind: 'int',
    min: 100,
    max: 120_000,
    default: 5000,
    defaultFrom: 'UPSTREAM_TIMEOUT_MS',
    shown: '`UPSTREAM_TIMEOUT_MS`',
    meaning: 'How long a Koala call may take, in milliseconds (Koala is slow).',
  },
  KOALA_CACHE_SECONDS: {
    kind: 'int',
    min: 0,
    max: 30 * 86_400,
    default: 600,
    meaning: "How long Koala's purposes and a full pass through its employees are trusted before asking again, in seconds.",
  },
  KOALA_STAFF_REFRESH_SECONDS: {
    kind: 'int',
    min: 0,
    max: 86_400,
    default: 0,
    meaning: 'How long a remembered employee is used without reading it from Koala again, in seconds; 0 = every time.',
  },
  WECHAT_CLOUD_URL: { kind: 'url', shown: 'none: simulated', meaning: 'The WeChat interface cloud service (bindings, template messages).' },
  WECHAT_APP_ID: { kind: 'text', shown: 'none: simulated', meaning: 'The official account, for web OAuth (`snsapi_base`).' },
  WECHAT_APP_SECRET: { kind: 'secret', shown: REQUIRED, meaning: "The official account's secret." },
  WECHAT_API_URL: { kind: 'url', default: 'https://api.weixin.qq.com', meaning: "WeChat's OAuth API." },
  ALIYUN_SMS_ENDPOINT: { kind: 'url', default: 'https://dysmsapi.aliyuncs.com', meaning: "Aliyun's SMS API (setting it turns simulated mode off)." },
  ALIYUN_ACCESS_KEY_ID: { kind: 'text', shown: REQUIRED, meaning: 'The Aliyun access key that sends SMS.' },
  ALIYUN_ACCESS_KEY_SECRET: { kind: 'secret', shown: REQUIRED, meaning: "That access key's secret." },
  SMS_SIGN_NAME: { kind: 'text', shown: REQUIRED, meaning: 'The SMS signature, e.g. `某某公司`.' },
} as const satisfies Table;

const storage = {
  STORAGE_DRIVER: {
    kind: 'enum',
    values: ['local', 's3'],
    default: 'local',
    meaning:
      'Where landed avatars are kept: `local` (files under `STORAGE_LOCAL_DIR`, served at `/files/`) or `s3` (Aliyun OSS, MinIO or any S3-compatible store).',
  },
  STORAGE_LOCAL_DIR: { kind: 'text', default: './data/files', meaning: 'The directory of the `local` driver.' },
  S3_ENDPOINT: { kind: 'url', shown: "the SDK's (AWS)", meaning: 'The store, e.g. `https://oss-cn-hangzhou.aliyuncs.com`.' },
  S3_REGION: { kind: 'text', shown: 'required with `s3`', meaning: "The bucket's region, e.g. `oss-cn-hangzhou`." },
  S3_BUCKET: { kind: 'text', shown: 'required with `s3`', meaning: 'The bucket.' },
  S3_ACCESS_KEY_ID: { kind: 'text', shown: 'required with `s3`', meaning: 'The access key.' },
  S3_SECRET_ACCESS_KEY: { kind: 'secret', shown: 'required with `s3`', meaning: "The access key's secret." },
  S3_PUBLIC_URL: { kind: 'url', meaning: 'How browsers reach the bucket, e.g. `https://laifang-avatars.oss-cn-hangzhou.aliyuncs.com`.' },
  S3_FORCE_PATH_STYLE: { kind: 'bool', default: false, meaning: 'Path-style addresses: OSS needs virtual-hosted style; MinIO usually wants `true`.' },
  S3_PRIVATE: { kind: 'bool', default: false, meaning: '`true`: a private bucket; browsers get presigned URLs.' },
  S3_SIGNED_URL_TTL_S: { kind: 'int', min: 60, max: 7 * 86_400, default: 900, meaning: 'How long a presigned URL is valid, in seconds.' },
} as const satisfies Table;

const notifications = {
  NOTIFY_SEND: {
    kind: 'bool',
    default: true,
    meaning: '`false`: this replica answers but sends no notifications; another one on the same PostgreSQL must.',
  },
  NOTIFY_YIELD_AT: {
    kind: 'int',
    min: 0,
    max: 1_000_000,
    default: 200,
    meaning: 'While a process answers this many requests a second, its sending gives way; 0 = never.',
  },
  NOTIFY_YIELD_RATE: { kind: 'int', min: 1, max: 100_000, default: 50, meaning: 'Messages a second while giving way; the rest wait in the outbox.' },
  NOTIFY_POLL_MS: { kind: 'int', min: 500, max: 60_000, default: 1000, meaning: 'How often the worker looks for notifications to send, in milliseconds.' },
  NOTIFY_EXPIRE_S: {
    kind: 'int',
    min: 5,
    max: 3600,
    default: 60,
    meaning: "A claimed notification's lease, in seconds: one whose process died is sent again after it (and a Koala job whose worker died is retried).",
  },
  NOTIFY_RETRY_DELAY_S: {
    kind: 'int',
    min: 1,
    max: 3600,
    default: 5,
    meaning: 'The first delay of the exponential back-off after a transient failure, in seconds.',
  },
  NOTIFY_RETRY_MAX_DELAY_S: { kind: 'int', min: 1, max: 86_400, default: 60, meaning: 'The longest delay of that back-off, in seconds.' },
  NOTIFY_RETRY_LIMIT: {
    kind: 'int',
    min: 0,
    max: 10_000,
    default: 60,
    meaning: 'Retries before a failure is recorded as final (about an hour with the defaults).',
  },
  NOTIFY_BATCH_SIZE: { kind: 'int', min: 1, max: 1000, default: 50, meaning: 'Notifications a worker claims at a time.' },
  NOTIFY_MAINTENANCE_S: { kind: 'int', min: 1, max: 3600, default: 15, meaning: 'How often expired Koala jobs are looked for, in seconds.' },
} as const satisfies Table;

const adminAndFrontDesk = {
  ADMIN_USERNAME: {
    kind: 'text',
    meaning: 'The first admin, created at start-up if there is none yet: 3–64 letters, digits or `_ . @ -`; goes with `ADMIN_PASSWORD`.',
  },
  ADMIN_PASSWORD: { kind: 'secret', meaning: "The first admin's password: at least 10 characters; never logged." },
  SIGNIN_LEAD_MINUTES: { kind: 'int', min: 0, max: 24 * 60, default: 30, meaning: 'How early before its window a visit may be signed in, in minutes.' },
  VISIT_SWEEP_S: { kind: 'int', min: 1, max: 3600, default: 30, meaning: 'How often ended visits are checked out, in seconds.' },
  RETENTION_DAYS: {
    kind: 'int',
    min: 1,
    max: 36_500,
    default: 90,
    meaning: 'Visit records, companions and notifications are deleted this many days after the visit window ends.',
  },
  RETENTION_SWEEP_S: { kind: 'int', min: 1, max: 86_400, default: 3600, meaning: 'How often the retention sweep runs, in seconds.' },
  RETENTION_BATCH: { kind: 'int', min: 1, max: 100_000, default: 500, meaning: 'Records the retention sweep deletes per batch.' },
  LEDGER_EXPORT_KEEP_H: { kind: 'int', min: 1, max: 720, default: 24, meaning: 'Ledger export files are deleted this many hours after asked for.' },
  LEDGER_EXPORT_LEASE_S: { kind: 'int', min: 2, max: 3600, default: 60, meaning: 'An export whose worker died is taken up again after this many seconds.' },
  LEDGER_EXPORT_BATCH: { kind: 'int', min: 1, max: 10_000, default: 1000, meaning: 'Records an export reads and writes per batch.' },
} as const satisfies Table;

const capacity = {
  WEB_CONCURRENCY: {
    kind: 'int',
    min: 1,
    max: 64,
    default: 1,
    auto: true,
    meaning: 'Server processes on one port (`auto` = one per core); above 1 needs PostgreSQL and the real integrations.',
  },
  RECORDS_CACHE_MB: { kind: 'int', min: 0, max: 4096, default: 16, meaning: 'Record-list pages cached per process, in MB; 0 = off.' },
  RECORDS_CACHE_SECONDS: { kind: 'int', min: 1, max: 86_400, default: 300, meaning: 'How long a cached record-list page is kept, in seconds.' },
  UPKEEP_INTERVAL_S: {
    kind: 'int',
    min: 1,
    max: 86_400,
    default: 15,
    meaning: 'How often the outbox, queue, counter and application tables are vacuumed, in seconds.',
  },
} as const satisfies Table;

/** The topics, in the README's order. */
export const VARIABLE_GROUPS: ReadonlyArray<{ title: string; variables: Table }> = [
  { title: 'Server', variables: server },
  { title: 'Database', variables: database },
  { title: 'Sessions and visits', variables: sessionsAndVisits },
  { title: 'Limits on requests, SMS and lookups', variables: abuseLimits },
  { title: 'Integrations (Koala, WeChat, Aliyun SMS)', variables: integrations },
  { title: 'Message templates', variables: templates },
  { title: 'Storage of landed avatars', variables: storage },
  { title: 'Notifications', variables: notifications },
  { title: 'Admin, front desk, privacy', variables: adminAndFrontDesk },
  { title: 'Capacity', variables: capacity },
  { title: 'Monitoring', variables: monitoring },
];

export const VARIABLES = {
  ...server,
  ...database,
  ...sessionsAndVisits,
  ...abuseLimits,
  ...integrations,
  ...templates,
  ...storage,
  ...notifications,
  ...adminAndFrontDesk,
  ...capacity,
  ...monitoring,
};
export type Variables = typeof VARIABLES;
