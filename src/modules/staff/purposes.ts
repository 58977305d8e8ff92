import type { KoalaPort, KoalaPurpose } from '../../adapters/koala/port.js';
import type { Db } from '../../db/client.js';
import { UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { staffRepo } from './repo.js';

/** The contract's fixed list (§3.8), used when Koala has none and nothing is cached. */
export const DEFAULT_PURPOSES: KoalaPurpose[] = [
  { label: '其他', value: 0 },
  { label: '面试', value: 1 },
  { label: '商务', value: 2 },
  { label: '亲友', value: 3 },
  { label: '快递送货', value: 4 },
];

const KEY = 'koala_purposes';

export interface Purposes {
  list(): Promise<KoalaPurpose[]>;
}

/** Purposes from Koala, remembered in the database so a Koala outage does not break the form. */
export function createPurposes(deps: { db: Db; koala: KoalaPort; logger: Logger; now: () => number; cacheSeconds: number }): Purposes {
  let memo: { list: KoalaPurpose[]; until: number } | null = null;
  let inflight: Promise<KoalaPurpose[]> | null = null;

  async function refresh(): Promise<KoalaPurpose[]> {
    const row = await staffRepo.state(deps.db, KEY);
    const stored = row ? (row.value as { list: KoalaPurpose[] | null }).list : undefined;
    if (row && deps.now() - row.updatedAt.getTime() < deps.cacheSeconds * 1000) return stored ?? DEFAULT_PURPOSES;
    try {
      const fromKoala = await deps.koala.listPurposes();
      const now = new Date(deps.now());
      const value = fromKoala && fromKoala.length > 0 ? fromKoala : null;
      await staffRepo.setState(deps.db, KEY, { list: value }, now);
      return value ?? DEFAULT_PURPOSES;
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      deps.logger.warn({ err }, 'Koala purposes unavailable: using the remembered or fixed list');
      return stored ?? DEFAULT_PURPOSES;
    }
  }

  return {
    async list() {
      if (memo && memo.until > deps.now()) return memo.list;
      inflight ??= refresh()
        .then((list) => {
          // Within one process, ask the database at most every few seconds.
          memo = { list, until: deps.now() + Math.min(5_000, deps.cacheSeconds * 1000) };
          return list;
        })
        .finally(() => {
          inflight = null;
        });
      return inflight;
    },
  };
}
