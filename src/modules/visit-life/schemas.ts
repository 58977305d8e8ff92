import { Type } from 'typebox';
import { LIMITS } from '../../limits.js';
import { Record } from '../applications/schemas.js';
import { TIMELINE_EVENTS } from './timeline.js';

const MAX_TIME = 4_102_444_800; // 2100-01-01, as POST /v1/subject
const Time = Type.Integer({ minimum: 0, maximum: MAX_TIME, description: 'Unix seconds' });

export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });

export const TimelineEntry = Type.Object({
  at: Type.Integer({ description: 'Unix seconds' }),
  event: Type.Enum(TIMELINE_EVENTS),
  by: Type.Enum(['host', 'visitor', 'kiosk', 'system', 'admin'], { description: 'who did it' }),
});

export const HolderPass = Type.Object({
  qrcode: Type.String({ description: 'the QR content: {"id": <application id>, "qrcode": "<token>"}' }),
  qrcode_img_url: Type.String({ description: 'absolute URL of the QR picture (PNG)' }),
  valid_from: Type.Integer({ description: 'Unix seconds' }),
  valid_until: Type.Integer({ description: 'Unix seconds' }),
});

/** GET /v1/visit/{id}: the record, its timeline and, to a person who holds one now, their pass. */
export const VisitDetail = Type.Object(
  {
    ...Record.properties,
    timeline: Type.Array(TimelineEntry, { description: 'what happened to the visit, oldest first' }),
    pass: Type.Union([HolderPass, Type.Null()], { description: "the caller's own pass while it admits; null otherwise" }),
  },
  { description: 'One visit as its people see it' },
);

export const RejectBody = Type.Object({
  reason: Type.String({ minLength: 1, maxLength: LIMITS.statusReason, description: 'told to the visitor' }),
});

export const CancelBody = Type.Object({
  reason: Type.Optional(Type.String({ maxLength: LIMITS.statusReason, description: 'told to the other people of the visit' })),
});

export const TimeBody = Type.Object({ start_time: Time, end_time: Time });
