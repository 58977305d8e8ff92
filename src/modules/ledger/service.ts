import { Readable } from 'node:stream';
import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { cleanRecordFilter, type RecordFilter } from '../admin/records.js';
import type { Audit } from '../audit/service.js';
import { chinaTime, maskedPhone } from './columns.js';
import { CONTENT_TYPES } from './file-writers.js';
import { ledgerRepo, type ExportRow } from './repo.js';

export type ExportFormat = 'xlsx' | 'csv';

export interface ExportRequest {
  filters: RecordFilter;
  format: ExportFormat;
  full_phones?: boolean;
  reason?: string;
}

/** An export as the admin API shows it. */
export interface ExportView {
  id: number;
  status: string;
  format: string;
  filters: RecordFilter;
  full_phones: boolean;
  rows_total: number | null;
  rows_done: number;
  bytes: number | null;
  error: string | null;
  created_at: number;
  finished_at: number | null;
  expires_at: number;
}

export interface ExportFile {
  fileName: string;
  contentType: string;
  bytes: number;
  body: Readable;
}

export interface LedgerExports {
  /** Queues an export of the listing's records under these filters (audited with them). */
  create(adminId: number, req: ExportRequest): Promise<ExportView>;
  /** One of the caller's own exports (NOT_FOUND for anyone else's or an expired one). */
  get(adminId: number, id: number): Promise<ExportView>;
  list(adminId: number): Promise<ExportView[]>;
  /** The finished file (CONFLICT while it is being written), its download audited. */
  file(adminId: number, id: number): Promise<ExportFile>;
}

/** Exports one admin may have queued or running at once. */
const MAX_UNFINISHED = 3;

/** The filters with their phones masked: what the audit log may hold. */
export const auditedFilters = (f: RecordFilter) => ({
  ...f,
  ...(f.phone ? { phone: maskedPhone(f.phone) } : {}),
  ...(f.interviewee_phone ? { interviewee_phone: maskedPhone(f.interviewee_phone) } : {}),
});

export function createLedgerExports(deps: { db: Db; audit: Audit; now: () => number; keepSeconds: number; wake: () => void }): LedgerExports {
  const { db, audit } = deps;
  const nowS = () => Math.floor(deps.now() / 1000);
  const view = (r: ExportRow): ExportView => ({
    id: r.id,
    status: r.status,
    format: r.format,
    filters: r.filters as RecordFilter,
    full_phones: r.fullPhones,
    rows_total: r.rowsTotal,
    rows_done: r.rowsDone,
    bytes: r.bytes,
    error: r.status === 'failed' ? r.error : null,
    created_at: r.createdAt,
    finished_at: r.finishedAt,
    expires_at: r.createdAt + deps.keepSeconds,
  });
  async function own(adminId: number, id: number): Promise<ExportRow> {
    const row = await ledgerRepo.get(db, id);
    if (!row || row.adminId !== adminId || row.createdAt + deps.keepSeconds <= nowS()) throw new AppError('NOT_FOUND', '导出文件不存在或已过期');
    return row;
  }

  return {
    async create(adminId, req) {
      const filters = cleanRecordFilter(req.filters);
      const fullPhones = req.full_phones === true;
      const reason = req.reason?.trim() ?? '';
      if (fullPhones && reason.length < 2) throw new AppError('VALIDATION_FAILED', '导出完整手机号须填写原因（reason）');
      const id = await db.transaction(async (tx) => {
        if ((await ledgerRepo.unfinishedOf(tx, adminId)) >= MAX_UNFINISHED)
          throw new AppError('CONFLICT', `最多同时进行 ${MAX_UNFINISHED} 个导出，请等待完成后再试`);
        const maxId = await ledgerRepo.maxApplicationId(tx);
        const id = await ledgerRepo.insert(tx, {
          adminId,
          format: req.format,
          filters,
          fullPhones,
          reason: fullPhones ? reason : null,
          maxId,
          createdAt: nowS(),
        });
        await audit.record(tx, {
          actor: { kind: 'admin', id: String(adminId) },
          action: 'ledger.export',
          targetType: 'ledger_export',
          targetId: String(id),
          detail: { format: req.format, filters: auditedFilters(filters), full_phones: fullPhones, ...(fullPhones ? { reason } : {}) },
        });
        return id;
      });
      deps.wake();
      return view((await ledgerRepo.get(db, id))!);
    },

    get: async (adminId, id) => view(await own(adminId, id)),
    async list(adminId) {
      const rows = await ledgerRepo.listOf(db, adminId, 20);
      return rows.filter((r) => r.createdAt + deps.keepSeconds > nowS()).map(view);
    },

    async file(adminId, id) {
      const row = await own(adminId, id);
      if (row.status !== 'done') throw new AppError('CONFLICT', '导出尚未完成');
      await audit.record(db, {
        actor: { kind: 'admin', id: String(adminId) },
        action: 'ledger.download',
        targetType: 'ledger_export',
        targetId: String(id),
        detail: { rows: row.rowsDone, full_phones: row.fullPhones },
      });
      const format = row.format as ExportFormat;
      const fileName = `访客台账-${chinaTime(row.createdAt).replace(/[-: ]/g, '').slice(0, 12)}-${row.id}.${format}`;
      return { fileName, contentType: CONTENT_TYPES[format], bytes: row.bytes ?? 0, body: Readable.from(chunks(db, id)) };
    },
  };
}

/** The pieces of a file in order, one read at a time. */
async function* chunks(db: Db, id: number): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const data = await ledgerRepo.chunk(db, id, seq);
    if (!data) return;
    yield data;
  }
}
