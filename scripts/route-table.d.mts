// Types of scripts/route-table.mjs, for test/build/route-table.test.ts.
export function renderRouteTable(doc: unknown): string;
export function withTable(markdown: string, table: string): string;
export function expectedContributing(): Promise<string>;
