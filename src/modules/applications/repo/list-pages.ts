import type { Database, Statement } from '../../../db/client.js';
import { RECORD_KEYS, type ApplicationRecord } from '../schemas.js';
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

/**
 * The page's keys, read in order from the caller's own index entries ($1 phone, $2 limit,
 * $3 offset, $4 is_auth when filtered). NULLS LAST matches the indexes' order, so the index
 * serves the sort (test/api/query-plans.test.ts holds this).
 */
function keysSql(kind: ListKind, filtered: boolean): { keys: string; count: string } {
  if (kind === 'involving') {
    const from = filtered
      ? `application_people p join applications f on f.id = p.application_id where p.phone = $1 and not p.is_proposer and f.is_auth = $4`
      : `application_people p where p.phone = $1 and not p.is_proposer`;
    return {
      keys: `select p.application_id as id, p.created_at from ${from} order by p.created_at desc nulls last, p.application_id desc nulls last limit $2 offset $3`,
      count: `select count(*)::int from ${from}`,
    };
  }
  const where = `f.proposer = $1${filtered ? ' and f.is_auth = $4' : ''}`;
  return {
    keys: `select f.id, f.created_at from applications f where ${where} order by f.created_at desc nulls last, f.id desc nulls last limit $2 offset $3`,
    count: `select count(*)::int from applications f where ${where}`,
  };
}

function listStatement(kind: ListKind, filtered: boolean): Statement {
  const { keys, count } = keysSql(kind, filtered);
  return {
    name: `laifang_${kind}_page${filtered ? '_auth' : ''}`,
    text: `select (${count}) as count,
  (select coalesce(json_agg(${RECORD_JSON} order by k.created_at desc, k.id desc), '[]'::json)
   from (${keys}) k join applications a on a.id = k.id
   ${COMPANIONS}) as rows`,
  };
}

const LIST_STATEMENTS = {
  involving: [listStatement('involving', false), listStatement('involving', true)],
  proposed: [listStatement('proposed', false), listStatement('proposed', true)],
} as const;

/** The statement and values of one page (exported for the query-plan test, which EXPLAINs the very text). */
export function pageQuery(kind: ListKind, phone: string, isAuth: number | undefined, page: Page): { stmt: Statement; values: unknown[] } {
  const values: unknown[] = [phone, page.size, (page.page - 1) * page.size];
  if (isAuth !== undefined) values.push(isAuth);
  return { stmt: LIST_STATEMENTS[kind][isAuth === undefined ? 0 : 1], values };
}

/**
 * A page of 3.9 ('involving': records involving `phone` as host, visitor or companion that
 * somebody else proposed) or 3.10 ('proposed': records `phone` proposed), and how many there are.
 */
export async function listPage(
  database: Database,
  kind: ListKind,
  phone: string,
  isAuth: number | undefined,
  page: Page,
): Promise<{ rows: ApplicationRecord[]; count: number }> {
  const { stmt, values } = pageQuery(kind, phone, isAuth, page);
  const [row] = await database.query<{ count: number; rows: ApplicationRecord[] }>(stmt, values);
  return { rows: row?.rows ?? [], count: row?.count ?? 0 };
}
