import type { Database } from '../../db/client.js';
import type { PageCache } from './page-cache.js';
import type { ListKind, Page } from './repo.js';
import { listPage, type ListFilter } from './repo/list-pages.js';
import type { ApplicationRecord } from './schemas.js';

/** A page of records and the list's total, as the body of the answer. */
export type PageSerializer = (rows: ApplicationRecord[], count: number) => string;

/** 3.9 / 3.10: a page as the serialized list envelope, from the page cache when it holds it. */
export type PageJson = (list: ListKind, callerPhone: string, filter: ListFilter, page: Page, serialize: PageSerializer) => Promise<string>;

/** Pages past this one are rarely read twice: they are not kept. */
export const CACHED_PAGES = 3;

/** The page's key among its phone's kept pages, or null when it is not kept. */
export function pageKey(list: ListKind, filter: ListFilter, page: Page): string | null {
  if (page.page > CACHED_PAGES) return null;
  const status = filter.status && filter.status.length > 0 ? `:${filter.status.join(',')}` : '';
  return `${list}:${filter.isAuth ?? ''}${status}:${page.page}:${page.size}`;
}

/**
 * The page is read by one statement that answers it as JSON (repo/list-pages.ts); `serialize`
 * turns it into the answer's body (the route's envelope), and the cache keeps that body.
 */
export function createPageJson(deps: { database: Database; pages?: PageCache }): PageJson {
  return function pageJson(list, phone, filter, page, serialize) {
    const load = async () => {
      const { rows, count } = await listPage(deps.database, list, phone, filter, page);
      return serialize(rows, count);
    };
    const key = pageKey(list, filter, page);
    if (!deps.pages || key === null) return load();
    return deps.pages.read(phone, key, load);
  };
}
