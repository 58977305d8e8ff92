import { Type } from 'typebox';

export const StaffProfile = Type.Object({
  subject_id: Type.Integer(),
  name: Type.String(),
  department: Type.String(),
  avatar: Type.String({ description: 'absolute URL served by this service\'s storage, or ""' }),
  phone: Type.String(),
});

export const VisitorProfile = Type.Object({ nick: Type.String(), avatar: Type.String(), phone: Type.String() });
