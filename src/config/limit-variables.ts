import type { Spec } from './kinds.js';

/**
 * The variables that bound what one client, one phone or the whole service may ask for: requests
 * per address, SMS per phone and in all, code requests per requester, host lookups that miss.
 * Part of the table in src/config/variables.ts.
 */
export const abuseLimits = {
  RATE_LIMIT_PER_MINUTE: { kind: 'int', min: 0, max: 10_000_000, default: 1200, meaning: 'Requests per client address in a minute; 0 = off.' },
  BIND_VERIFY_PHONE: { kind: 'bool', default: true, meaning: 'Bindings need an SMS code sent to the phone.' },
  SMS_PER_PHONE_PER_HOUR: {
    kind: 'int',
    min: 1,
    max: 100_000,
    default: 10,
    meaning: 'SMS actually sent to one phone in an hour, whatever caused them: a capped notification is recorded as `skipped`, a capped code request is a 429.',
  },
  SMS_PER_PHONE_PER_DAY: { kind: 'int', min: 1, max: 1_000_000, default: 30, meaning: 'SMS actually sent to one phone in a day.' },
  SMS_GLOBAL_PER_HOUR: { kind: 'int', min: 1, max: 10_000_000, default: 2000, meaning: 'SMS actually sent by the whole service in an hour.' },
  SMS_CODE_SHARE_PERCENT: {
    kind: 'int',
    min: 1,
    max: 100,
    default: 50,
    meaning: 'Percent of `SMS_GLOBAL_PER_HOUR` codes may use; notifications keep the rest.',
  },
  SMS_CODE_PHONES_PER_HOUR: { kind: 'int', min: 1, max: 1000, default: 3, meaning: 'Different phones one WeChat user may ask codes for in an hour.' },
  SMS_CODE_PHONES_PER_ADDRESS_PER_HOUR: {
    kind: 'int',
    min: 0,
    max: 1_000_000,
    default: 30,
    meaning: 'The same per client address (see `TRUST_PROXY`); 0 = off.',
  },
  HOST_MISSES_PER_HOUR: {
    kind: 'int',
    min: 1,
    max: 100_000,
    default: 5,
    meaning: 'Visitor requests naming a host Koala does not confirm, per WeChat user an hour.',
  },
  HOST_MISSES_PER_ADDRESS_PER_HOUR: { kind: 'int', min: 0, max: 1_000_000, default: 30, meaning: 'The same per client address; 0 = off.' },
} as const satisfies Record<string, Spec>;
