import { Type } from 'typebox';
import { LIMITS } from '../../limits.js';

const Time = (description: string) => Type.Integer({ minimum: 0, maximum: 4_102_444_800, description });

/** The records listing's filters (GET /v1/visit/records?type=web), also those of the ledger export. */
export const RecordFilterFields = {
  id: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'one record by its id' })),
  name: Type.Optional(Type.String({ maxLength: LIMITS.personName, description: 'substring of the visitor or a companion name' })),
  interviewee: Type.Optional(Type.String({ maxLength: LIMITS.personName, description: "substring of the host's name" })),
  phone: Type.Optional(Type.String({ maxLength: LIMITS.phoneInput, description: 'the visitor or a companion' })),
  interviewee_phone: Type.Optional(Type.String({ maxLength: LIMITS.phoneInput })),
  start_time: Type.Optional(Time('visits whose window ends at or after this (Unix seconds)')),
  end_time: Type.Optional(Time('visits whose window starts at or before this (Unix seconds)')),
  is_auth: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)])),
};
