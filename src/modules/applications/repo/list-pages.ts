import type { Database, Statement } from '../../../db/client.js';
import { RECORD_KEYS, type ApplicationRecord, type VisitStatus } from '../schemas.js';
import type { ListKind, Page } from '../repo.js';

/**
 * The hot read paths (3.9, 3.10) are plain SQL written once: one named statement per list
 * and filter, one round trip per page. The database returns the page already as JSON (rows
 * with their companions aggregated by a lateral join) together with the count the list
 * envelope needs, so no query is built and no row is mapped in JavaScript per call.
 */

/**
 * The record as JSON, built from the schema's keys: each is the column of the same name of
 * `applications a`, except `retinues` (the lateral join `c`).
 */
export const RECORD_JSON = `json_build_object(${RECORD_KEYS.map((k) => `'${k}', ${k === 'retinues' ? `coalesce(c.retinues, '[]'::json)` : `a.${k}`}`).join(', ')})`;

const COMPANIONS = `left join lateral (
    select json_agg(json_build_object('name', r.name, 'phone', r.phone) order by r.position) as retinues
    from application_people r where r.application_id = a.id and r.role = 'companion') c on true`;

/** What a list may be narrowed to: `is_auth`, and one or several statuses. */
export interface ListFilter {
  isAuth?: number | undefined;
  status?: readonly VisitStatus[] | undefined;
}

/**
 * The page's keys, read in order from the caller's own index entries ($1 phone, $2 limit,
 * $3 offset, then `is_auth` and the statuses, each when filtered on). NULLS LAST matches the
 * indexes' order, so the index serves the sort (test/api/query-plans.test.ts holds this).
 */
function keysSql(kind: ListKind, byAuth: boolean, byStatus: boolean): { keys: string; count: string } {
  const conds: string[] = [];
  if (byAuth) conds.push(`f.is_auth = $4`);
  if (byStatus) conds.push(`f.status = any($${byAuth ? 5 : 4}::text[])`);
  const extra = conds.map((c) => ` and ${c}`).join('');
  if (kind === 'involving') {
    const from =
      conds.length > 0
        ? `application_people p join applications f on f.id = p.application_id where p.phone = $1 and not p.is_proposer${extra}`
        : `application_people p where p.phone = $1 and not p.is_proposer`;
    return {
      keys: `select p.application_id as id, p.created_at from ${from} order by p.created_at desc nulls last, p.application_id desc nulls last limit $2 offset $3`,
      count: `select count(*)::int from ${from}`,
    };
  }
  const where = `f.proposer = $1${extra}`;
  return {
    keys: `select f.id, f.created_at from applications f where ${where} order by f.created_at desc nulls last, f.id desc nulls last limit $2 offset $3`,
    count: `select count(*)::int from applications f where ${where}`,
  };
}

function listStatement(kind: ListKind, byAuth: boolean, byStatus: boolean): Statement {
  const { keys, count } = keysSql(kind, byAuth, byStatus);
  return {
    name: `laifang_${kind}_page${byAuth ? '_auth' : ''}${byStatus ? '_status' : ''}`,
    text: `select (${count}) as count,
  (select coalesce(json_agg(${RECORD_JSON} order by k.created_at desc, k.id desc), '[]'::json)
   from (${keys}) k join applications a on a.id = k.id
   ${COMPANIONS}) as rows`,
  };
}

/** Per list: [none, is_auth, status, both]. */
const LIST_STATEMENTS = {
  involving: [false, true].flatMap((s) => [listStatement('involving', false, s), listStatement('involving', true, s)]),
  proposed: [false, true].flatMap((s) => [listStatement('proposed', false, s), listStatement('proposed', true, s)]),
} as const;

/** The statement and values of one page (exported for the query-plan test, which EXPLAINs the very text). */
export function pageQuery(kind: ListKind, phone: string, filter: ListFilter, page: Page): { stmt: Statement; values: unknown[] } {
  const values: unknown[] = [phone, page.size, (page.page - 1) * page.size];
  const byAuth = filter.isAuth !== undefined;
  const byStatus = filter.status !== undefined && filter.status.length > 0;
  if (byAuth) values.push(filter.isAuth);
  if (byStatus) values.push(filter.status);
  return { stmt: LIST_STATEMENTS[kind][(byStatus ? 2 : 0) + (byAuth ? 1 : 0)]!, values };
}

/**
 * A page of 3.9 ('involving': records involving `phone` as host, visitor or companion that
 * somebody else proposed) or 3.10 ('proposed': records `phone` proposed), and how many there are.
 */
export async function listPage(
  database: Database,
  kind: ListKind,
  phone: string,
  filter: ListFilter,
  page: Page,
): Promise<{ rows: ApplicationRecord[]; count: number }> {
  const { stmt, values } = pageQuery(kind, phone, filter, page);
  const [row] = await database.query<{ count: number; rows: ApplicationRecord[] }>(stmt, values);
  return { rows: row?.rows ?? [], count: row?.count ?? 0 };
}
