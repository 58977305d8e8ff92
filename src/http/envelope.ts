import { Type, type TSchema } from 'typebox';

/** Success envelope (api-contract.md §1). */
export function ok<T>(data: T): { code: 0; err_msg: ''; data: T } {
  return { code: 0, err_msg: '', data };
}

export interface PageInfo {
  count: number;
  current: number;
  size: number;
  total: number;
}

export function okList<T>(data: T[], count: number, current: number, size: number): { code: 0; err_msg: ''; data: T[]; page: PageInfo } {
  return { code: 0, err_msg: '', data, page: { count, current, size, total: Math.ceil(count / size) } };
}

export const ErrorEnvelope = Type.Object(
  { code: Type.Integer(), err_msg: Type.String(), error: Type.String() },
  { $id: 'ErrorEnvelope', description: 'Failure: code = HTTP status; error = machine code (§6)' },
);

export function Envelope<T extends TSchema>(data: T) {
  return Type.Object({ code: Type.Literal(0), err_msg: Type.String(), data });
}

export const PageSchema = Type.Object({ count: Type.Integer(), current: Type.Integer(), size: Type.Integer(), total: Type.Integer() });

export function ListEnvelope<T extends TSchema>(item: T) {
  return Type.Object({ code: Type.Literal(0), err_msg: Type.String(), data: Type.Array(item), page: PageSchema });
}

export const EmptyObject = Type.Object({}, { additionalProperties: false });

/** The error answers a route may give, for OpenAPI. */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorEnvelope> {
  const out: Record<number, typeof ErrorEnvelope> = {};
  for (const s of statuses) out[s] = ErrorEnvelope;
  return out;
}
