import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';

/**
 * What one environment variable is: its kind (how its text is parsed and checked), its default
 * and its one-line meaning (the README's table is generated from these). `shown` replaces the
 * default in the README where the default is derived or a sentence says it better.
 */
interface Common {
  meaning: string;
  shown?: string;
}
export type IntSpec = Common & {
  kind: 'int';
  min: number;
  max: number;
  default: number;
  /** Unset: the value of that variable instead of `default`. */
  defaultFrom?: string;
  /** `auto` is accepted and means one per core. */
  auto?: true;
};
export type BoolSpec = Common & { kind: 'bool'; default: boolean };
/** An http(s) URL, kept without trailing slashes. */
export type UrlSpec = Common & { kind: 'url'; default?: string };
export type TextSpec = Common & { kind: 'text'; default?: string };
/** Never echoed in a message; `minLength` is checked whenever it is set. */
export type SecretSpec = Common & { kind: 'secret'; minLength?: number; hint?: string };
export type EnumSpec = Common & { kind: 'enum'; values: readonly string[]; default: string };
export type DatabaseUrlSpec = Common & { kind: 'database-url'; default: string };
/** A comma-separated list of exact browser origins. */
export type OriginsSpec = Common & { kind: 'origins' };
/** The reverse proxies trusted to say who the client is: addresses or CIDRs, comma-separated; `false` = none. */
export type ProxiesSpec = Common & { kind: 'proxies' };
export type Spec = IntSpec | BoolSpec | UrlSpec | TextSpec | SecretSpec | EnumSpec | DatabaseUrlSpec | OriginsSpec | ProxiesSpec;

/** The type a variable of that spec is read as. */
export type ValueOf<S> = S extends { kind: 'int' }
  ? number
  : S extends { kind: 'bool' }
    ? boolean
    : S extends { kind: 'enum'; values: readonly (infer V)[] }
      ? V
      : S extends { kind: 'origins' | 'proxies' }
        ? string[]
        : S extends { default: string }
          ? string
          : string | undefined;

export type Env = Record<string, string | undefined>;

/** A parse: the value (absent when the text is unusable) and what is wrong with the text. */
interface Parsed {
  value?: unknown;
  problems: string[];
}

const DATABASE_SCHEMES = /^(postgres|postgresql|pglite):\/\//;

/** Parses the (trimmed, non-empty) text of `name` as its spec says. */
export function parseValue(name: string, spec: Spec, raw: string): Parsed {
  const shown = JSON.stringify(raw);
  switch (spec.kind) {
    case 'int': {
      const n = spec.auto && raw === 'auto' ? availableParallelism() : /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (n >= spec.min && n <= spec.max) return { value: n, problems: [] };
      return { problems: [`${name}=${shown} must be ${spec.auto ? 'auto or ' : ''}a whole number from ${spec.min} to ${spec.max}.`] };
    }
    case 'bool':
      if (/^(true|1|yes|on)$/i.test(raw)) return { value: true, problems: [] };
      if (/^(false|0|no|off)$/i.test(raw)) return { value: false, problems: [] };
      return { problems: [`${name}=${shown} must be true or false.`] };
    case 'url':
      return isHttpUrl(raw) ? { value: raw.replace(/\/+$/, ''), problems: [] } : { problems: [`${name}=${shown} must be an http:// or https:// URL.`] };
    case 'text':
      return { value: raw, problems: [] };
    case 'secret':
      return {
        value: raw,
        problems:
          spec.minLength && raw.length < spec.minLength ? [`${name} must be at least ${spec.minLength} characters${spec.hint ? ` (${spec.hint})` : ''}.`] : [],
      };
    case 'enum':
      return spec.values.includes(raw) ? { value: raw, problems: [] } : { problems: [`${name}=${shown} must be ${orList(spec.values.map((v) => `"${v}"`))}.`] };
    case 'database-url':
      // The value is kept as given: the other checks read it as written.
      return {
        value: raw,
        problems: DATABASE_SCHEMES.test(raw) ? [] : [`${name} must start with postgres:// or pglite:// (for example pglite://./data/db or pglite://memory).`],
      };
    case 'origins':
      return parseOrigins(name, raw);
    case 'proxies':
      return parseProxies(name, raw);
  }
}

function isHttpUrl(raw: string): boolean {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** `a, b,, c` → `['a', 'b', 'c']`: a comma-separated value's items, trimmed, empty ones dropped. */
function listItems(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `https://a.example.com, https://b.example.com` → exact origins; `*` is refused (sessions are bearer tokens, but be explicit). */
function parseOrigins(name: string, raw: string): Parsed {
  const value: string[] = [];
  const problems: string[] = [];
  for (const item of listItems(raw)) {
    let origin: string | null = null;
    try {
      const u = new URL(item);
      if ((u.protocol === 'http:' || u.protocol === 'https:') && u.origin === item.replace(/\/+$/, '')) origin = u.origin;
    } catch {
      origin = null;
    }
    if (origin) value.push(origin);
    else problems.push(`${name}: ${JSON.stringify(item)} must be an origin such as https://h5.example.com (scheme, host and port only).`);
  }
  return { value, problems };
}

/** proxy-addr's names for address ranges (Fastify compiles the list with it). */
const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `127.0.0.1`, `10.0.0.0/8, ::1`, `loopback` → those proxies are trusted: the client is the
 * right-most address of X-Forwarded-For that is not one of them. `true` (every hop) and hop
 * counts are refused: with them a client that reaches the service, or writes X-Forwarded-For
 * itself, chooses the address the per-address limits count.
 */
function parseProxies(name: string, raw: string): Parsed {
  if (/^(false|0|no|off)$/i.test(raw)) return { value: [], problems: [] };
  const fix = `name the proxy instead: ${name}=127.0.0.1 for nginx on this machine, or its addresses or CIDRs, comma-separated`;
  if (/^(true|yes|on)$/i.test(raw))
    return {
      problems: [`${name}=${raw} would trust every hop, so a client could choose the address the per-address limits count (X-Forwarded-For); ${fix}.`],
    };
  if (/^\d+$/.test(raw)) return { problems: [`${name}=${raw}: a number of hops cannot tell a proxy from a client that reached the service itself; ${fix}.`] };
  const value: string[] = [];
  const problems: string[] = [];
  for (const item of listItems(raw)) {
    const [address = '', prefix, ...rest] = item.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (PROXY_RANGES.includes(item) || (family !== 0 && prefixOk && rest.length === 0)) value.push(item);
    else problems.push(`${name}: ${JSON.stringify(item)} must be an IP address, a CIDR such as 10.0.0.0/8, or ${orList(PROXY_RANGES)}.`);
  }
  return { value, problems };
}

/** `a`, `a or b`, `a, b or c`. */
export function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** The value of an unset variable (or of one whose text is unusable). */
function defaultOf(spec: Spec): unknown {
  switch (spec.kind) {
    case 'origins':
    case 'proxies':
      return [];
    case 'secret':
      return undefined;
    default:
      return spec.default;
  }
}

/**
 * Reads variables of `table` from `env`, each parsed at most once, on first use: a variable is
 * checked only where the configuration uses it (KOALA_TIMEOUT_MS only with Koala configured, the
 * S3 settings only with STORAGE_DRIVER=s3). Every problem found is collected in `problems`.
 */
export class EnvReader<V extends Record<string, Spec>> {
  readonly problems: string[] = [];
  /** What is allowed but weakens the service: logged at every start. */
  readonly warnings: string[] = [];
  private readonly parsed = new Map<string, { value?: unknown }>();

  constructor(
    private readonly table: V,
    private readonly env: Env,
  ) {}

  /** The trimmed text, or undefined when unset or blank. */
  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  /** The value as given: undefined when unset or unusable (the default does not count). */
  given<N extends keyof V & string>(name: N): ValueOf<V[N]> | undefined {
    let entry = this.parsed.get(name);
    if (!entry) {
      const raw = this.raw(name);
      const result: Parsed = raw === undefined ? { problems: [] } : parseValue(name, this.spec(name), raw);
      this.problems.push(...result.problems);
      entry = { value: result.value };
      this.parsed.set(name, entry);
    }
    return entry.value as ValueOf<V[N]> | undefined;
  }

  /** The value, or the default when unset or unusable. */
  read<N extends keyof V & string>(name: N): ValueOf<V[N]> {
    const value = this.given(name);
    if (value !== undefined) return value;
    const spec = this.spec(name);
    if (spec.kind === 'int' && spec.defaultFrom) return this.read(spec.defaultFrom as keyof V & string) as ValueOf<V[N]>;
    return defaultOf(spec) as ValueOf<V[N]>;
  }

  /** `NAME is required when GROUP is configured.` for each of `names` that is unset. */
  require(group: string, names: Array<keyof V & string>): void {
    for (const n of names) if (this.raw(n) === undefined) this.problem(`${n} is required when ${group} is configured.`);
  }

  problem(message: string): void {
    this.problems.push(message);
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  private spec(name: string): Spec {
    const spec = (this.table as Record<string, Spec | undefined>)[name];
    if (!spec) throw new Error(`${name} is not in the table of variables`);
    return spec;
  }
}
