// Types of scripts/docs-config.mjs, for test/docs-config.test.ts.
import type { Spec } from '../src/config/kinds.ts';

export const CONFIG_TABLE_START: string;
export const CONFIG_TABLE_END: string;
/** The absolute path of README.md. */
export const README: string;
export function renderConfigTable(groups?: ReadonlyArray<{ title: string; variables: Record<string, Spec> }>): string;
export function withConfigTable(readme: string, table?: string): string;
