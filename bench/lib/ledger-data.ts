import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.js';

/** The Koala simulator's demo staff (test/helpers/harness.ts STAFF), hosts of the generated visits. */
const HOSTS = [
  { name: '张伟', phone: '13800000001', subjectId: 1001, department: '研发部' },
  { name: '李娜', phone: '13800000002', subjectId: 1002, department: '行政部' },
  { name: '王芳', phone: '13800000003', subjectId: 1003, department: '市场部' },
  { name: '刘洋', phone: '13800000004', subjectId: 1004, department: '' },
];

/**
 * Generated visit records, written straight into the tables in two statements (the records
 * API would take minutes for 100k): invitations and visitor requests for the Koala
 * simulator's demo staff, with companions, authorizations, sign-ins and check-outs spread
 * over `days` days before `end` — some visits still on site, some no-shows, some never
 * authorized (a visit is on site only while its window lasts) — and names and companies that a spreadsheet would read as formulas. Values
 * follow from the row number, so a run is reproducible. Returns the ids written.
 */
export async function generateVisits(
  db: Db,
  o: { count: number; end: number; days: number; phonePrefix?: string },
): Promise<{ firstId: number; lastId: number }> {
  const hosts = HOSTS;
  for (const s of hosts) {
    await db.execute(sql`insert into staff_cache (phone, subject_id, name, department, refreshed_at)
      values (${s.phone}, ${s.subjectId}, ${s.name}, ${s.department}, now()) on conflict (phone) do update set department = excluded.department`);
  }
  const prefix = o.phonePrefix ?? '137';
  const now = Math.floor(Date.now() / 1000);
  const span = o.days * 86_400;
  const names = ['张三', '李四', '王五', '=HYPERLINK("http://x","点我")', '赵六', '+86钱七', '孙八', '-周九', '@吴十', '郑十一'];
  const companies = ['', '飞跃科技', '=1+2', '星河物流', '蓝天建设', '\t制表公司', '华夏银行'];
  const purposes = ['商务洽谈', '面试', '送货', '参观', ''];
  const rows = await db.execute(sql`
    with g as (select i, ${o.end}::bigint - ${span}::bigint + ((i::bigint * 7919) % ${span}::bigint) as st from generate_series(1, ${o.count}::int) as i),
    v as (
      select i, st, case when i % 3 = 0 then 'invitation' else 'request' end as kind,
        (${sql.param(names)}::text[])[1 + i % 10] as name,
        ${prefix} || lpad((i % 100000000)::text, 8, '0') as phone,
        (${sql.param(companies)}::text[])[1 + i % 7] as come_from,
        (${sql.param(purposes)}::text[])[1 + i % 5] as purpose_name,
        (${sql.param(hosts.map((h) => h.name))}::text[])[1 + i % 4] as host,
        (${sql.param(hosts.map((h) => h.phone))}::text[])[1 + i % 4] as host_phone,
        st - 3600 - (i % 86400) as created
      from g)
    insert into applications (kind, name, phone, purpose, purpose_name, come_from, remark, proposer, proposer_weixin_user_id,
      interviewee, interviewee_phone, interviewee_subject_id, start_time, end_time, is_auth, auth_time, created_at, signin_time, signout_time)
    select kind, name, phone, i % 5, purpose_name, come_from, case when i % 11 = 0 then '=SUM(A1:A9)' else '' end,
      case when kind = 'invitation' then host_phone else phone end, 'wx-gen-' || i, host, host_phone, 1000 + i % 4,
      st, st + 3600 + (i % 4) * 1800,
      case when kind = 'invitation' or i % 4 <> 1 then 1 else 0 end,
      case when kind = 'invitation' then created when i % 4 <> 1 then created + 60 + (i % 3000) else null end,
      created,
      case when (kind = 'invitation' or i % 4 <> 1) and i % 5 in (0, 1, 2) then st + (i % 1800) else null end,
      case when (kind = 'invitation' or i % 4 <> 1) and i % 5 in (0, 1) then st + (i % 1800) + 1200 + (i % 7200)
           -- on site only while the window lasts (the check-out sweep ends the others at their end)
           when (kind = 'invitation' or i % 4 <> 1) and i % 5 = 2 and st + 3600 + (i % 4) * 1800 <= ${now} then st + 3600 + (i % 4) * 1800
           else null end
    from v order by i
    returning id`);
  const ids = (Array.isArray(rows) ? rows : (rows as { rows: Array<{ id: unknown }> }).rows).map((r: { id: unknown }) => Number(r.id));
  const firstId = Math.min(...ids);
  const lastId = Math.max(...ids);
  // The people of each record: the host, the visitor, and companions on every 4th and 7th.
  await db.execute(sql`
    insert into application_people (application_id, role, position, name, phone, is_proposer, created_at)
    select a.id, p.role, p.position, p.name, p.phone, p.is_proposer, a.created_at
    from applications a cross join lateral (values
      ('host', 0, a.interviewee, a.interviewee_phone, a.kind = 'invitation'),
      ('visitor', 1, a.name, a.phone, a.kind = 'request'),
      ('companion', 2, '随行甲', '136' || lpad((a.id % 100000000)::text, 8, '0'), false),
      ('companion', 3, '=随行乙', '135' || lpad((a.id % 100000000)::text, 8, '0'), false)
    ) as p(role, position, name, phone, is_proposer)
    where a.id between ${firstId} and ${lastId}
      and (p.position < 2 or (p.position = 2 and a.id % 4 = 0) or (p.position = 3 and a.id % 7 = 0))`);
  return { firstId, lastId };
}
