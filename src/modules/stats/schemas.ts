import { Type } from 'typebox';

const Time = (description: string) => Type.Integer({ minimum: 0, maximum: 4_102_444_800, description });
const Seconds = Type.Union([Type.Number(), Type.Null()], { description: 'seconds; null when there is nothing to measure' });

export const StatsQuery = Type.Object({
  from: Time('Unix seconds: visits whose window ends at or after this'),
  to: Time('Unix seconds: visits whose window starts at or before this (at most 400 days after from)'),
  group: Type.Optional(Type.Union([Type.Literal('day'), Type.Literal('week')], { default: 'day', description: 'the series: per day, or per week (Monday)' })),
  top: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 10, description: 'entries of each ranking' })),
});

const Ranked = Type.Object({
  top: Type.Array(
    Type.Object({
      key: Type.Union([Type.String(), Type.Null()], { description: 'the value (the host: their phone); null: not given / unknown' }),
      label: Type.Union([Type.String(), Type.Null()], { description: "the host's name; null otherwise" }),
      visits: Type.Integer(),
    }),
  ),
  rest: Type.Integer({ description: 'visits of every other value: top + rest = totals.visits' }),
});

export const Statistics = Type.Object({
  range: Type.Object({ from: Type.Integer(), to: Type.Integer(), group: Type.String() }),
  totals: Type.Object({
    visits: Type.Integer({ description: 'the listing’s count for start_time=from, end_time=to' }),
    invitations: Type.Integer(),
    requests: Type.Integer(),
    approved_requests: Type.Integer(),
    pending: Type.Integer({ description: 'not (yet) authorized' }),
    approval_rate: Type.Union([Type.Number(), Type.Null()], { description: 'approved_requests / requests' }),
    approve_avg_s: Seconds,
    approve_median_s: Seconds,
    signed_in: Type.Integer(),
    no_shows: Type.Integer({ description: 'authorized, never signed in, window over' }),
    stays: Type.Integer({ description: 'visits signed in and out' }),
    stay_avg_s: Seconds,
    stay_median_s: Seconds,
  }),
  series: Type.Array(
    Type.Object({ date: Type.String({ description: 'YYYY-MM-DD, China time (a week: its Monday)' }), visits: Type.Integer(), signed_in: Type.Integer() }),
  ),
  by_purpose: Ranked,
  by_company: Ranked,
  by_host: Ranked,
  by_department: Ranked,
  peak_hours: Type.Array(
    Type.Object({
      weekday: Type.Integer({ description: '0 = Monday … 6 = Sunday' }),
      hour: Type.Integer({ description: '0–23, China time' }),
      signins: Type.Integer(),
    }),
  ),
  on_site_now: Type.Object({ visits: Type.Integer(), people: Type.Integer({ description: 'visitors and companions holding a live pass' }) }),
});
