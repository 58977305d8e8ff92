import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

// A UUID (request ids) is matched first and kept whole: its hex digits may hold 11 decimal
// digits in a row ("…-e14110806009"), and a mangled request id breaks log correlation.
// A number is found however it was typed: groups apart by spaces, dashes, dots or what a URL
// makes of a space (`+`, `%20`), after `+86`, `0086` or `86` (also `%2B86`).
const GAP = String.raw`(?:[-\s.+]|%20)?`;
const PHONE_IN_TEXT = new RegExp(
  String.raw`([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|(?<!\d)(?:(?:\+|%2B|00)?86${GAP})?(1[3-9]\d)${GAP}(\d{4})${GAP}(\d{4})(?!\d)`,
  'gi',
);

/** `13812345678` → `138****5678`. */
export function maskPhone(phone: string): string {
  return phone.replace(PHONE_IN_TEXT, (m, uuid: string | undefined, a: string, _b: string, c: string) => (uuid ? m : `${a}****${c}`));
}

/** Masks every mainland mobile number in any string, object or array (deeply); for log lines. */
export function maskDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskPhone(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, depth + 1));
  if (Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = maskDeep(v, depth + 1);
  return out;
}

// Query parameters that are credentials: a pass picture's key (it is as good as the pass), an
// OAuth code, any token.
const SECRET_QUERY = /([?&](?:k|code|token|sms_code|key|secret)=)[^&#]*/gi;

/** A URL as it may be logged: credentials in its query replaced, phone numbers masked. */
export function loggableUrl(url: string): string {
  return maskPhone(url.replace(SECRET_QUERY, '$1[redacted]'));
}

const SECRET_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.secret',
  '*.token',
  '*.sms_code',
];

/**
 * The service's logger: JSON lines, secrets redacted, and every phone number masked in every
 * field and message (PIPL: a full number never reaches a log).
 */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: SECRET_PATHS, censor: '[redacted]' },
    formatters: {
      log: (obj) => maskDeep(obj) as Record<string, unknown>,
    },
    hooks: {
      // The last word on every line: child-logger bindings (`logger.child({ phone })`) bypass the
      // formatters above, so the finished JSON line is masked once more before it is written.
      streamWrite: (line) => maskPhone(line),
      logMethod(args, method) {
        const masked = args.map((a) => (typeof a === 'string' ? maskPhone(a) : a)) as Parameters<typeof method>;
        method.apply(this, masked);
      },
    },
    serializers: {
      err: (err: unknown) => maskDeep(pino.stdSerializers.err(err as Error)),
      req: (req: { method?: string; url?: string; id?: string; raw?: { url?: string; method?: string } }) => {
        const url = req.url ?? req.raw?.url;
        return { method: req.method ?? req.raw?.method, url: typeof url === 'string' ? loggableUrl(url) : undefined, id: req.id };
      },
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}
