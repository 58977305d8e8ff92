import type { Spec } from './kinds.js';

/** `GET /metrics` (Prometheus): whether it is served and the token a scrape must show. Part of src/config/variables.ts. */
export const monitoring = {
  METRICS: {
    kind: 'enum',
    values: ['on', 'off'],
    default: 'on',
    shown: '`on` (in production: `on` only with `METRICS_TOKEN`)',
    meaning:
      '`GET /metrics` in the Prometheus text format (requests, outbox, sends, Koala and cloud calls, database pool, event loop, process). `off`: 404. `on` in production without a token is refused.',
  },
  METRICS_TOKEN: {
    kind: 'secret',
    minLength: 32,
    hint: 'try: openssl rand -hex 32',
    meaning:
      'When set, a scrape of `/metrics` must send `Authorization: Bearer <token>` (others get 401). Prometheus: `authorization: { credentials_file: … }`.',
  },
} as const satisfies Record<string, Spec>;
