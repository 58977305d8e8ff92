// Types of scripts/gen-api-types.mjs, for test/build/api-types.test.ts.

/** A JSON Schema as the OpenAPI document holds it. */
export type JsonSchema = boolean | { [keyword: string]: unknown };

/** A generated type: its name and where it comes from (`<METHOD> <path> <where>`). */
export interface ApiType {
  name: string;
  from: string[];
}

export const OUT_FILE: string;
export const API_TYPES: ApiType[];
export function servedOpenApi(): Promise<unknown>;
export function schemaAt(doc: unknown, place: string): JsonSchema;
export function tsType(schema: JsonSchema | undefined, named?: Map<string, string>, indent?: string, where?: string): string;
export function renderApiTypes(doc: unknown, types?: ApiType[]): Promise<string>;
export function generateApiTypes(): Promise<string>;
