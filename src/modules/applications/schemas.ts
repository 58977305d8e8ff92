import { Type, type Static } from 'typebox';
import { PhoneInput } from '../../http/schemas.js';
import { AppError } from '../../errors.js';
import { LIMITS } from '../../limits.js';

/**
 * Where a visit stands. `pending` → `approved` (authorized; an invitation starts here) →
 * `signed_in` → `checked_out`; or it ends as `rejected` (by the host), `cancelled` (before
 * sign-in), `expired` (a request nobody decided before its window ended) or `no_show` (approved,
 * never signed in, window over).
 */
export const VISIT_STATUSES = ['pending', 'approved', 'rejected', 'cancelled', 'expired', 'signed_in', 'checked_out', 'no_show'] as const;
export type VisitStatus = (typeof VISIT_STATUSES)[number];

export const Retinue = Type.Object({ name: Type.String(), phone: Type.String() });

/**
 * The record (api-contract.md §4), defined once: the answers' schema, the TypeScript type
 * (`ApplicationRecord`), the keys of the SQL projections (repo.ts `recordColumns`, the list
 * statements' JSON) and, through OpenAPI, the pages' types all come from here.
 */
export const Record = Type.Object(
  {
    id: Type.Integer(),
    subject_type: Type.Integer(),
    name: Type.String(),
    phone: Type.String(),
    purpose: Type.Integer(),
    purpose_name: Type.String(),
    come_from: Type.String(),
    remark: Type.String(),
    proposer: Type.String(),
    interviewee: Type.String(),
    interviewee_phone: Type.String(),
    start_time: Type.Integer(),
    end_time: Type.Integer(),
    is_auth: Type.Integer(),
    auth_time: Type.Union([Type.Integer(), Type.Null()]),
    created_at: Type.Integer(),
    retinues: Type.Array(Retinue),
    status: Type.Enum(VISIT_STATUSES, { description: 'where the visit stands' }),
    status_reason: Type.String({ description: 'the reason of a rejection or cancellation; "" when none' }),
    signin_time: Type.Union([Type.Integer(), Type.Null()], { description: 'first kiosk sign-in, Unix seconds' }),
    signout_time: Type.Union([Type.Integer(), Type.Null()], { description: 'check-out, Unix seconds' }),
  },
  { description: 'A visit application (api-contract.md §4)' },
);

export type ApplicationRecord = Static<typeof Record>;

/** The record's keys, in the schema's order. */
export const RECORD_KEYS = Object.keys(Record.properties) as Array<keyof ApplicationRecord>;

const MAX_TIME = 4_102_444_800; // 2100-01-01: anything later is a client bug
const Time = Type.Integer({ minimum: 0, maximum: MAX_TIME, description: 'Unix seconds' });
const PersonName = Type.String({ minLength: 1, maxLength: LIMITS.personName });

/** The body of 3.7. The operation checks again what a schema cannot (phones, characters, times). */
export const ApplyBody = Type.Object({
  subject_type: Type.Optional(Type.Literal(1, { description: '1 = visitor (the only kind)' })),
  name: Type.String({ minLength: 1, maxLength: LIMITS.personName, description: "visitor's name" }),
  phone: PhoneInput,
  purpose: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647, description: 'a value of GET /v1/subject/purpose' })),
  come_from: Type.Optional(Type.String({ maxLength: LIMITS.company })),
  remark: Type.Optional(Type.String({ maxLength: LIMITS.remark })),
  proposer: Type.Optional(Type.String({ maxLength: LIMITS.phoneInput, description: "the caller's phone (checked)" })),
  interviewee: Type.String({ minLength: 1, maxLength: LIMITS.personName, description: "host's name" }),
  interviewee_phone: PhoneInput,
  start_time: Time,
  end_time: Time,
  retinues: Type.Optional(Type.Array(Type.Object({ name: PersonName, phone: PhoneInput }), { maxItems: LIMITS.companions })),
});

export type ApplyInput = Static<typeof ApplyBody>;

/** The query of 3.9 and 3.10. */
export const ListQuery = Type.Object({
  phone: Type.Optional(Type.String({ maxLength: LIMITS.phoneInput })),
  proposer: Type.Optional(Type.String({ maxLength: LIMITS.phoneInput })),
  weixinUserId: Type.Optional(Type.String({ maxLength: 128 })),
  is_auth: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)])),
  status: Type.Optional(Type.String({ maxLength: 128, description: `one or several of ${VISIT_STATUSES.join(', ')}, comma-separated` })),
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
});

/** `?status=` of the lists: one or several statuses, comma-separated; anything else is refused. */
export function parseStatuses(raw: string | undefined): VisitStatus[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const out: VisitStatus[] = [];
  for (const part of raw.split(',')) {
    const v = part.trim();
    if (!(VISIT_STATUSES as readonly string[]).includes(v)) {
      throw new AppError('VALIDATION_FAILED', `字段 status 只能是 ${VISIT_STATUSES.join('、')} 中的一个或几个（以逗号分隔）`);
    }
    if (!out.includes(v as VisitStatus)) out.push(v as VisitStatus);
  }
  return out.sort();
}
