/**
 * A half-filled form kept in this browser (localStorage), so a reload or a closed tab does not
 * lose it; one per form and WeChat user, removed once the form is sent.
 */
const key = (form: string, who: string) => `laifang.draft.${form}.${who}`;

export function loadDraft<T extends object>(form: string, who: string): Partial<T> | null {
  try {
    const value = JSON.parse(localStorage.getItem(key(form, who)) ?? 'null') as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Partial<T>) : null;
  } catch {
    return null;
  }
}

export function saveDraft(form: string, who: string, value: object): void {
  try {
    localStorage.setItem(key(form, who), JSON.stringify(value));
  } catch {
    // Storage full or refused (private mode): the form still works, only without a draft.
  }
}

export function clearDraft(form: string, who: string): void {
  localStorage.removeItem(key(form, who));
}
