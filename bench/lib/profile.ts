/** Summaries of V8 CPU profiles (.cpuprofile): where the busy time went, by library and by function. */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  /** Wall time covered, ms. */
  wallMs: number;
  /** Share of non-idle samples, by category. */
  categories: Array<{ name: string; share: number }>;
  /** Busiest functions by self time. */
  functions: Array<{ name: string; share: number }>;
  /** Share of wall time the thread was busy. */
  busy: number;
}

export function categoryOf(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(program)') return 'v8 / native';
  if (url === '' && /^(writev|writeUtf8String|writeLatin1String|writeBuffer|writeAsciiString)$/.test(fn)) return 'socket writes (syscalls)';
  if (url === '') return 'v8 / native';
  if (/\/src\/adapters\/[^/]+\/simulator\.ts|\/src\/adapters\/simulator\.ts|\/src\/adapters\/koala\/demo-data/.test(url)) return 'simulators (bench only)';
  if (url.includes('/src/')) return 'laifang src';
  if (url.includes('/bench/')) return 'bench harness';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) {
    const pkg = m[1]!;
    if (/^(fastify|find-my-way|avvio|light-my-request|fast-json-stringify|@fastify\/.*|fast-querystring|secure-json-parse|ajv|typebox)$/.test(pkg))
      return `fastify + schemas (${pkg})`;
    if (/^(pg|pg-protocol|pg-pool|pg-types|postgres-.*|pgpass)$/.test(pkg)) return 'pg driver';
    if (/^@alicloud|^@darabonba|^httpx|^kitx|^@alibabacloud/.test(pkg)) return 'aliyun sms sdk';
    if (pkg === 'tsx' || pkg === 'esbuild' || pkg === 'get-tsconfig') return 'tsx loader';
    return pkg;
  }
  if (url.startsWith('node:internal/deps/undici')) return 'undici (fetch)';
  if (url.startsWith('node:')) return 'node core';
  return 'other';
}

export function summarize(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  // The profiler's own work (Profiler.stop, the IPC answer) sits under node:inspector.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const underInspector = (id: number): boolean => {
    for (let c: number | undefined = id; c !== undefined; c = parent.get(c)) if (byId.get(c)?.callFrame.url === 'node:inspector') return true;
    return false;
  };
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  let all = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    all += us;
    const cat = underInspector(id) ? 'profiler (bench only)' : categoryOf(n.callFrame.url, n.callFrame.functionName);
    if (cat === 'idle') continue;
    busy += us;
    cats.set(cat, (cats.get(cat) ?? 0) + us);
    const file = n.callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/').replace(/^file:\/\//, '');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${file}${file ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, share: busy > 0 ? us / busy : 0 }));
  return { wallMs: all / 1000, categories: sorted(cats), functions: sorted(fns).slice(0, top), busy: all > 0 ? busy / all : 0 };
}
