import { Type } from 'typebox';

export const Retinue = Type.Object({ name: Type.String(), phone: Type.String() });

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
  },
  { description: 'A visit application (api-contract.md §4)' },
);
