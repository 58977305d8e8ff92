/**
 * The whole configuration, parsed once from the environment (api-contract.md §7). Nothing else
 * reads process.env. A bad value stops the start with a message that says how to fix it.
 */
export interface Config {
  env: 'production' | 'development' | 'test';
  port: number;
  host: string;
  /**
   * The reverse proxies (addresses, CIDRs) whose X-Forwarded-For is believed: the client is the
   * right-most address that is not one of them. Empty: the connection's own address.
   */
  trustProxy: string[];
  /** Swagger UI at /docs and the OpenAPI document at /docs/json (API_DOCS). */
  apiDocs: boolean;
  /** GET /metrics (METRICS, METRICS_TOKEN): served or not, and the bearer token a scrape must show. */
  metrics: { enabled: boolean; token: string | null };
  publicUrl: string;
  databaseUrl: string;
  /** null outside production until the database provides one (stored per data directory). */
  sessionSecret: string | null;
  sessionTtlSeconds: number;
  applyPerHour: number;
  /** The longest visit window (hours) and how far ahead a visit may start (days). */
  visitWindow: { maxHours: number; maxDaysAhead: number };
  /** Working hours in China time, whole hours [start, end): the phone form's default slot lies in them. */
  workHours: { start: number; end: number };
  rateLimitPerMinute: number;
  bindVerifyPhone: boolean;
  logLevel: string;
  /** True when no integration URL is set: in-process simulators and POST /v1/session/dev. */
  simulated: boolean;
  koala: { url: string; username: string; password: string; timeoutMs: number } | null;
  wechatCloud: { url: string; timeoutMs: number } | null;
  wechatOAuth: { apiUrl: string; appId: string; appSecret: string; timeoutMs: number } | null;
  sms: { endpoint: string; accessKeyId: string; accessKeySecret: string; signName: string; timeoutMs: number } | null;
  templates: { sms: Record<TemplateName, string>; wechat: Record<TemplateName, string> };
  /** The first admin, created at start-up when there is no admin yet (ADMIN_USERNAME / ADMIN_PASSWORD). */
  firstAdmin: { username: string; password: string } | null;
  storage:
    | { driver: 'local'; dir: string }
    | {
        driver: 's3';
        endpoint?: string;
        region: string;
        bucket: string;
        accessKeyId: string;
        secretAccessKey: string;
        publicUrl?: string;
        forcePathStyle: boolean;
        private: boolean;
        signedUrlTtlSeconds: number;
      };
  notify: {
    send: boolean;
    yieldAt: number;
    yieldRate: number;
    pollingIntervalSeconds: number;
    retryLimit: number;
    retryDelaySeconds: number;
    maxRetryDelaySeconds: number;
    batchSize: number;
    expireInSeconds: number;
    maintenanceIntervalSeconds: number;
  };
  /** How long purposes and a full pass through Koala's employees are trusted before asking again. */
  koalaCacheSeconds: number;
  /** How long a remembered employee is used without re-reading it from Koala (0 = every time). */
  koalaStaffRefreshSeconds: number;
  /** Front desk: how early before its window a visitor may sign in; how often ended visits are checked out. */
  visits: { signinLeadMinutes: number; sweepSeconds: number };
  /** Origins allowed to call the API from a browser (CORS_ORIGINS); empty = no CORS headers at all. */
  corsOrigins: string[];
  /**
   * Caps on SMS actually sent, counted in the database (all replicas): per target phone (an
   * hour, a day) and for the whole service (an hour), whatever route caused them.
   */
  smsCaps: { perPhonePerHour: number; perPhonePerDay: number; globalPerHour: number };
  /**
   * Verification codes (3.0) per requester: different phones a WeChat user, and a client address
   * (0 = no limit), may ask codes for in an hour; the percent of `smsCaps.globalPerHour` codes may use.
   */
  smsCodes: { phonesPerCallerPerHour: number; phonesPerAddressPerHour: number; globalSharePercent: number };
  /** Visitor requests naming a host Koala does not confirm, per WeChat user and per address (0 = no limit), an hour. */
  hostMisses: { perCallerPerHour: number; perAddressPerHour: number };
  /** Visit records, companions and notifications are deleted this many days after the visit window ends. */
  retention: { days: number; sweepIntervalSeconds: number; batchSize: number };
  /** Visit-ledger exports: how long a file is kept, the job's lease, records per batch. */
  ledgerExport: { keepHours: number; leaseSeconds: number; batchSize: number };
  /**
   * Server processes on this machine (WEB_CONCURRENCY; `auto` = one per core). Above 1: a
   * primary process forks that many workers sharing the port, each a replica. Needs PostgreSQL
   * and real integrations: the embedded database and the simulators live in one process.
   */
  webConcurrency: number;
  /** How often the outbox, queue, counter and application tables are vacuumed (src/db/upkeep.ts). */
  upkeepSeconds: number;
  /** Record-list pages kept per phone in each replica, invalidated by the database; 0 MB = off. */
  recordsCache: { maxBytes: number; ttlSeconds: number };
  /** Settings allowed but weakening the service, logged at every start. */
  warnings: string[];
}

/** The events a message is sent for; each has an SMS template code and a WeChat template id. */
export const TEMPLATE_NAMES = [
  'verification_code',
  'approval_pass_to_visitor',
  'approval_reminder_to_employee',
  'application_submitted_to_visitor',
  // Front desk: the pass sent at kiosk sign-in, and the host told of the arrival.
  'signin_to_visitor',
  'visitor_signin_to_employee',
  // A visit's life after it is made: refused, called off, moved, left undecided.
  'visit_rejected',
  'visit_cancelled',
  'visit_rescheduled',
  'visit_expired',
] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];
