import { normalizePhone as normalizeMobile } from '../../phone.js';
import type { KoalaEmployee, KoalaPurpose, KoalaVisitor } from './port.js';

/**
 * Reading Koala's answers. Koala versions differ and its data is typed in by front desks, so
 * every field is read defensively: phones come as strings or numbers with prefixes and
 * separators, pictures as box paths, absolute URLs or "", and the purpose list in more than
 * one shape.
 */

export type Json = Record<string, unknown>;

export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An integer from a number or a numeric string; null otherwise. */
export function toInt(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) ? v : null;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number.parseInt(v.trim(), 10);
  return null;
}

/** 11 digits, or '' when Koala's value is not a mainland mobile number (contract §1). */
/** Koala's phone may be a string, a number or empty: the 11 digits, or '' when unusable. */
export function normalizePhone(v: unknown): string {
  return normalizeMobile(v) ?? '';
}

/** A picture reference from Koala made absolute against the box's URL; '' when unusable. */
export function resolveUrl(v: unknown, baseUrl: string): string {
  if (typeof v !== 'string' || v.trim() === '') return '';
  try {
    const u = new URL(v.trim(), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : '';
  } catch {
    return '';
  }
}

/** Koala's subject_type: 0 = employee. A subject that does not say is taken as one. */
export function isEmployee(raw: Json): boolean {
  return raw.subject_type === undefined || raw.subject_type === null || toInt(raw.subject_type) === 0;
}

export function toEmployee(raw: unknown, baseUrl: string): KoalaEmployee | null {
  if (!isRecord(raw)) return null;
  const id = toInt(raw.id);
  if (id === null || id <= 0) return null;
  const photos = Array.isArray(raw.photos) ? raw.photos : [];
  const firstPhoto: unknown = photos[0];
  return {
    subjectId: id,
    name: typeof raw.name === 'string' ? raw.name.trim() : '',
    phone: normalizePhone(raw.phone),
    department: typeof raw.department === 'string' ? raw.department.trim() : '',
    avatarUrl: resolveUrl(raw.avatar, baseUrl) || (isRecord(firstPhoto) ? resolveUrl(firstPhoto.url, baseUrl) : ''),
  };
}

/** A listed subject that is a visitor (subject_type 1); null for anything else. */
export function toVisitor(raw: unknown): KoalaVisitor | null {
  if (!isRecord(raw) || toInt(raw.subject_type) !== 1) return null;
  const id = toInt(raw.id);
  if (id === null || id <= 0) return null;
  return {
    subjectId: id,
    name: typeof raw.name === 'string' ? raw.name.trim() : '',
    phone: normalizePhone(raw.phone),
    startTime: toInt(raw.start_time),
    endTime: toInt(raw.end_time),
    remark: typeof raw.remark === 'string' ? raw.remark : '',
  };
}

/** Koala says "no such subject" with a desc rather than a distinct code. */
export function saysNotFound(desc: unknown): boolean {
  return typeof desc === 'string' && /not\s*(be\s*)?found|not\s*exist|does\s*not\s*exist|不存在|找不到|未找到|没有找到/i.test(desc);
}

const LABEL_KEYS = ['label', 'name', 'purpose', 'title', 'text', 'desc'];
const VALUE_KEYS = ['value', 'id', 'code', 'key', 'purpose_id'];
const LIST_KEYS = ['purposes', 'purpose', 'list', 'items', 'data', 'options'];

/**
 * The purpose list, whatever shape this Koala sends: an array of `{label, value}`,
 * `{name, id}`, `{purpose, id}` or plain strings (value = position), an object wrapping such
 * an array, or a map `{"0": "其它", "1": "面试"}`. Null when there is none.
 */
export function toPurposes(data: unknown, depth = 0): KoalaPurpose[] | null {
  if (depth > 3 || data === null || data === undefined) return null;
  let out: KoalaPurpose[] = [];
  if (Array.isArray(data)) {
    data.forEach((item, index) => {
      if (typeof item === 'string') {
        if (item.trim() !== '') out.push({ label: item.trim(), value: index });
        return;
      }
      if (!isRecord(item)) return;
      const label = LABEL_KEYS.map((k) => item[k]).find((v): v is string => typeof v === 'string' && v.trim() !== '');
      const value = VALUE_KEYS.map((k) => toInt(item[k])).find((v): v is number => v !== null);
      if (label !== undefined) out.push({ label: label.trim(), value: value ?? index });
    });
  } else if (isRecord(data)) {
    const inner = LIST_KEYS.map((k) => data[k]).find((v) => Array.isArray(v) || isRecord(v)) ?? Object.values(data).find(Array.isArray);
    if (inner !== undefined) return toPurposes(inner, depth + 1);
    for (const [k, v] of Object.entries(data)) {
      const value = toInt(k);
      if (value !== null && typeof v === 'string' && v.trim() !== '') out.push({ label: v.trim(), value });
    }
  }
  // The first entry for a value wins: two labels for one value would make records ambiguous.
  const seen = new Set<number>();
  out = out.filter((p) => (seen.has(p.value) ? false : (seen.add(p.value), true)));
  return out.length > 0 ? out : null;
}
