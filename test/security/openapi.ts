/**
 * The routes of the running app, read from its own OpenAPI document (`app.swagger()`), so the
 * security suites cover every route registered now and later without a list to keep up to date.
 */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
}

export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** OpenAPI form: `/v1/auth/{id}`. */
  path: string;
  pathParams: Record<string, JsonSchema>;
  query: JsonSchema | null;
  headers: Record<string, JsonSchema>;
  body: JsonSchema | null;
  /** Declares a security requirement (needs some credential). */
  secured: boolean;
}

interface OpenApiDoc {
  paths?: Record<string, Record<string, OpenApiOperation>>;
}
interface OpenApiOperation {
  parameters?: Array<{ in: string; name: string; required?: boolean; schema?: JsonSchema }>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  security?: unknown[];
}

const METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;

export function openApiRoutes(doc: unknown): ApiRoute[] {
  const out: ApiRoute[] = [];
  for (const [path, item] of Object.entries((doc as OpenApiDoc).paths ?? {})) {
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      const pathParams: Record<string, JsonSchema> = {};
      const headers: Record<string, JsonSchema> = {};
      const queryProps: Record<string, JsonSchema> = {};
      const queryRequired: string[] = [];
      for (const p of op.parameters ?? []) {
        if (p.in === 'path') pathParams[p.name] = p.schema ?? {};
        else if (p.in === 'header') headers[p.name] = p.schema ?? {};
        else if (p.in === 'query') {
          queryProps[p.name] = p.schema ?? {};
          if (p.required) queryRequired.push(p.name);
        }
      }
      const body = op.requestBody?.content?.['application/json']?.schema ?? null;
      out.push({
        method: m.toUpperCase() as ApiRoute['method'],
        path,
        pathParams,
        query: Object.keys(queryProps).length > 0 ? { type: 'object', properties: queryProps, required: queryRequired } : null,
        headers,
        body,
        secured: (op.security?.length ?? 0) > 0,
      });
    }
  }
  return out;
}

/** A concrete URL for a templated path, every parameter filled with `value` (default: 1). */
export function samplePath(path: string, values: Record<string, string> = {}): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(values[name] ?? '1'));
}
