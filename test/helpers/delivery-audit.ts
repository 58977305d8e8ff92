import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../src/db/client.js';
import type { Sims } from './harness.js';
import { summary } from './service-process.js';

/**
 * Compares what the database says was committed with what the SMS and WeChat simulators
 * actually received: the accounting behind "every notification of every committed
 * application is delivered, and twice only across a crash".
 */
export interface NotificationRecord {
  id: number;
  applicationId: number;
  channel: 'sms' | 'wechat';
  phone: string;
  status: string;
  attempts: number;
  finishedAt: number | null;
  key: string;
}

export interface Delivery {
  key: string;
  /** When the provider (simulator) accepted each copy. */
  at: number[];
}

export interface Audit {
  applications: Set<number>;
  authorized: Set<number>;
  rows: NotificationRecord[];
  /** Rows still pending or failed (must be none once the service has settled). */
  unsettled: NotificationRecord[];
  /** Sent rows the provider never received. */
  missing: NotificationRecord[];
  /** Messages the provider received that no committed row asked for. */
  orphans: string[];
  /** Rows delivered more than once, with the instants of each copy. */
  duplicates: Array<{ row: NotificationRecord; at: number[] }>;
  /** Per sent row: our `sent` record minus the provider's acceptance of the copy it records (ms). */
  recordLagMs: number[];
  sent: number;
  skipped: number;
}

interface Row {
  id: number | string;
  application_id: number | string;
  channel: string;
  phone: string;
  status: string;
  attempts: number;
  finished_at: string | Date | null;
  payload: { tplMessageId?: string; data?: Record<string, string> } | string;
}

/** A WeChat message carries no id of ours: the recipient, the template and the visitor's name (unique per application in these tests) identify it. */
function wechatKey(phone: string, tpl: string, data: Record<string, string> | undefined): string {
  return `${phone}|${tpl}|${data?.keyword1 ?? ''}`;
}

/** Rows of a raw query, on PGlite and on pg alike (both answer `{ rows }`). */
export async function rowsOf<T>(database: Database, query: SQL): Promise<T[]> {
  return ((await database.db.execute(query)) as unknown as { rows: T[] }).rows;
}

export async function auditDeliveries(database: Database, sims: Pick<Sims, 'sms' | 'cloud'>): Promise<Audit> {
  const apps = await rowsOf<{ id: number | string; is_auth: number }>(database, sql`select id, is_auth from applications`);
  const raw = await rowsOf<Row>(
    database,
    sql`select id, application_id, channel, phone, status, attempts, finished_at, payload from notifications order by id`,
  );
  const rows: NotificationRecord[] = raw.map((r) => {
    const payload = (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as { tplMessageId?: string; data?: Record<string, string> };
    const channel = r.channel as 'sms' | 'wechat';
    return {
      id: Number(r.id),
      applicationId: Number(r.application_id),
      channel,
      phone: r.phone,
      status: r.status,
      attempts: r.attempts,
      finishedAt: r.finished_at === null ? null : new Date(r.finished_at).getTime(),
      key: channel === 'sms' ? String(r.id) : wechatKey(r.phone, payload.tplMessageId ?? '', payload.data),
    };
  });

  const received = new Map<string, number[]>();
  const add = (key: string, at: number) => received.set(key, [...(received.get(key) ?? []), at]);
  for (const m of sims.sms.messages()) if (m.out_id && /^\d+$/.test(m.out_id)) add(`sms:${m.out_id}`, m.at);
  for (const m of sims.cloud.messages()) add(`wechat:${wechatKey(m.phone, m.tplMessageId, m.data as Record<string, string>)}`, m.at);

  const audit: Audit = {
    applications: new Set(apps.map((a) => Number(a.id))),
    authorized: new Set(apps.filter((a) => Number(a.is_auth) === 1).map((a) => Number(a.id))),
    rows,
    unsettled: [],
    missing: [],
    orphans: [],
    duplicates: [],
    recordLagMs: [],
    sent: 0,
    skipped: 0,
  };
  const asked = new Set<string>();
  for (const row of rows) {
    const key = `${row.channel}:${row.key}`;
    asked.add(key);
    const copies = received.get(key) ?? [];
    if (row.status === 'skipped') {
      audit.skipped++;
      continue;
    }
    if (row.status !== 'sent') {
      audit.unsettled.push(row);
      continue;
    }
    audit.sent++;
    if (copies.length === 0) {
      audit.missing.push(row);
      continue;
    }
    if (copies.length > 1) audit.duplicates.push({ row, at: copies });
    // The record is written after the copy that it records: the last one received before it.
    const before = copies.filter((t) => row.finishedAt !== null && t <= row.finishedAt);
    if (row.finishedAt !== null && before.length > 0) audit.recordLagMs.push(row.finishedAt - before[before.length - 1]!);
  }
  for (const key of received.keys()) if (!asked.has(key)) audit.orphans.push(key);
  return audit;
}

/** The figures RELIABILITY.md reports, as one line for the test output. */
export function auditFigures(a: Audit): Record<string, unknown> {
  return {
    applications: a.applications.size,
    authorized: a.authorized.size,
    notifications: a.rows.length,
    sent: a.sent,
    skipped: a.skipped,
    duplicates: a.duplicates.length,
    duplicateSms: a.duplicates.filter((d) => d.row.channel === 'sms').length,
    recordLagMs: summary(a.recordLagMs),
  };
}
