import ExcelJS from 'exceljs';
import { expect } from 'vitest';
import type { Harness } from '../helpers/harness.js';

/** Asks for an export and waits until it is done; answers its final view. */
export async function exportDone(h: Harness, token: string, body: Record<string, unknown>): Promise<any> {
  const res = await h.request('POST', '/v1/admin/exports', { token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const id = res.body.data.id as number;
  return h.waitFor(
    async () => {
      const v = await h.request('GET', `/v1/admin/exports/${id}`, { token });
      if (v.body.data?.status === 'failed') throw new Error(`export failed: ${v.body.data.error}`);
      return v.body.data?.status === 'done' ? v.body.data : null;
    },
    { timeoutMs: 60_000, what: `export ${id} done` },
  );
}

/** The downloaded file's bytes. */
export async function download(h: Harness, token: string, id: number): Promise<{ status: number; bytes: Buffer; headers: Record<string, unknown> }> {
  const res = await h.runtime.app.inject({ method: 'GET', url: `/v1/admin/exports/${id}/file`, headers: { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, bytes: res.rawPayload, headers: res.headers };
}

/** RFC 4180 CSV (quoted fields, CRLF) → rows of strings; the BOM must lead. */
export function parseCsv(bytes: Buffer): string[][] {
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  const text = bytes.subarray(3).toString('utf8');
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  expect(field).toBe('');
  return rows;
}

/** The first sheet of an .xlsx → rows of strings (numbers as their digits). */
export async function parseXlsx(bytes: Buffer): Promise<string[][]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(bytes as never);
  const ws = wb.worksheets[0]!;
  const rows: string[][] = [];
  ws.eachRow({ includeEmpty: false }, (r) => {
    const cells: string[] = [];
    for (let c = 1; c <= ws.columnCount; c++) {
      const v = r.getCell(c).value;
      cells.push(v === null || v === undefined ? '' : String(v));
    }
    rows.push(cells);
  });
  return rows;
}

/** Every record of the admin listing for these filters, in its order (pages of 100). */
export async function listingAll(h: Harness, token: string, filters: Record<string, string | number>): Promise<any[]> {
  const out: any[] = [];
  const q = Object.entries(filters)
    .map(([k, v]) => `&${k}=${encodeURIComponent(String(v))}`)
    .join('');
  for (let page = 1; ; page++) {
    const res = await h.request('GET', `/v1/visit/records?type=web&size=100&page=${page}${q}`, { token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    out.push(...res.body.data);
    if (page >= res.body.page.total) return out;
  }
}

export const HEADERS = [
  '编号',
  '类型',
  '访客姓名',
  '手机号',
  '公司',
  '被访人',
  '被访人手机号',
  '来访事由',
  '开始时间',
  '结束时间',
  '状态',
  '授权时间',
  '签到时间',
  '签退时间',
  '同行人数',
  '同行人',
  '备注',
  '登记时间',
];

const cn = (t: number | null) => (t ? new Date((t + 8 * 3600) * 1000).toISOString().slice(0, 19).replace('T', ' ') : '');
const mask = (p: string) => `${p.slice(0, 3)}****${p.slice(7)}`;
const safe = (s: string) => (/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);

/** What the ledger's row for a listed record must say (written again here, from the contract's record). */
export function expectedRow(r: any, full: boolean): string[] {
  const ph = (p: string) => (full ? p : mask(p));
  return [
    String(r.id),
    r.kind === 'invitation' ? '邀请' : '申请',
    safe(r.name),
    ph(r.phone),
    safe(r.come_from),
    safe(r.interviewee),
    ph(r.interviewee_phone),
    safe(r.purpose_name),
    cn(r.start_time),
    cn(r.end_time),
    '', // status: checked apart (it depends on the time of the export)
    r.is_auth === 1 ? cn(r.auth_time) : '',
    cn(r.signin_time),
    cn(r.signout_time),
    String(r.retinues.length),
    safe(r.retinues.map((p: any) => `${p.name} ${ph(p.phone)}`).join('；')),
    safe(r.remark),
    cn(r.created_at),
  ];
}

/** The file's rows against the listing's: same records, same order, same cells. */
export function expectSameRows(file: string[][], listed: any[], full: boolean): void {
  expect(file[0]).toEqual(HEADERS);
  const body = file.slice(1);
  expect(body.map((r) => Number(r[0]))).toEqual(listed.map((r) => r.id));
  body.forEach((row, i) => {
    const want = expectedRow(listed[i], full);
    expect(['已签退', '已签到', '未到访', '已授权', '已过期', '待授权']).toContain(row[10]);
    expect({ ...row, 10: '' }).toEqual({ ...want });
  });
}
