import { Ajv, type ValidateFunction } from 'ajv';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

/**
 * Query strings, path parameters and headers arrive as text, so their validator coerces
 * (`?page=2` is the integer 2). A JSON body already has types, and the contract gives every
 * field exactly one: its validator coerces nothing, so `"name": 123` or `"start_time": "1764…"`
 * is a 400 naming the field rather than a silently converted value.
 */
const options = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false } as const;
const coercing = new Ajv({ ...options, coerceTypes: 'array' });
const exact = new Ajv({ ...options, coerceTypes: false });

export const validatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? exact : coercing;
  return ajv.compile(schema as object) as ValidateFunction;
};
