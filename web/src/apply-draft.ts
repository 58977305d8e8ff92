import type { Companion, Purpose } from './api-types';
import { loadDraft } from './draft';
import { LIMITS } from './limits';

export const APPLY_DRAFT = 'apply';

/** The apply form's fields, as the page holds them. */
export interface ApplyForm {
  name: string;
  phone: string;
  come_from: string;
  remark: string;
  interviewee: string;
  interviewee_phone: string;
  purpose: number;
  start_time: number;
  end_time: number;
  retinues: Companion[];
}

/**
 * Puts back what a reload left of the apply form: the typed fields, and the window unless it has
 * passed; never who the caller is (a host's own name and phone, a visitor's own phone). Answers
 * the draft's Idempotency-Key (a retry after a reload is still the same application), or null
 * when there was no draft.
 */
export function restoreApplyDraft(form: ApplyForm, owner: string, staff: boolean, purposes: Purpose[]): { key: string | null } | null {
  const d = loadDraft<ApplyForm & { key: string }>(APPLY_DRAFT, owner);
  if (!d) return null;
  const text = (v: unknown, fallback = '') => (typeof v === 'string' ? v : fallback);
  form.name = text(d.name);
  form.come_from = text(d.come_from);
  form.remark = text(d.remark);
  if (staff) form.phone = text(d.phone);
  else [form.interviewee, form.interviewee_phone] = [text(d.interviewee), text(d.interviewee_phone)];
  if (purposes.some((p) => p.value === d.purpose)) form.purpose = Number(d.purpose);
  if (typeof d.start_time === 'number' && typeof d.end_time === 'number' && d.end_time > Date.now() / 1000) {
    [form.start_time, form.end_time] = [d.start_time, d.end_time];
  }
  if (Array.isArray(d.retinues)) {
    form.retinues = d.retinues.slice(0, LIMITS.companions).map((r: Partial<Companion> | null) => ({ name: text(r?.name), phone: text(r?.phone) }));
  }
  return { key: typeof d.key === 'string' && /^[0-9a-f]{32}$/.test(d.key) ? d.key : null };
}
