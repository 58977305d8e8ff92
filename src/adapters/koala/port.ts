/** A Koala employee as this service needs it; phone already normalised to 11 digits ('' if none). */
export interface KoalaEmployee {
  subjectId: number;
  name: string;
  phone: string;
  department: string;
  /**
   * Absolute URL of the picture on the Koala box ('' when Koala has none). Relative
   * `/static/upload/...` paths are resolved against KOALA_URL; when `avatar` is empty,
   * `photos[0].url` is used.
   */
  avatarUrl: string;
}

export interface KoalaPurpose {
  label: string;
  value: number;
}

export interface KoalaPage<T> {
  items: T[];
  /** Koala's paging: count = items in total, total = pages. */
  page: { count: number; current: number; size: number; total: number };
}

/** A visitor subject as Koala lists it (subject_type 1). */
export interface KoalaVisitor {
  subjectId: number;
  name: string;
  phone: string;
  startTime: number | null;
  endTime: number | null;
  remark: string;
}

export interface KoalaVisitorInput {
  name: string;
  phone: string;
  startTime: number;
  endTime: number;
  interviewee: string;
  purpose?: number;
  comeFrom?: string;
  remark?: string;
}

/**
 * Megvii Koala, the access-control box (api-contract.md §8). Every method logs in on first
 * use, keeps the session cookie, and on an expired session (401 or an HTML answer) logs in
 * again once and retries. Failures throw UpstreamError (UPSTREAM_UNAVAILABLE when Koala does
 * not answer in time, UPSTREAM_FAILED when it answers with an error).
 */
export interface KoalaPort {
  /** GET /subject/list?category=employee&name=&page=&size= — substring (and pinyin) search by name. */
  searchEmployees(name: string, page: number, size: number): Promise<KoalaPage<KoalaEmployee>>;
  /** GET /subject/{id}; null when Koala says there is no such subject (or it is not an employee). */
  getEmployee(subjectId: number): Promise<KoalaEmployee | null>;
  /** GET /subjects/purpose; null when Koala has no purpose list. */
  listPurposes(): Promise<KoalaPurpose[] | null>;
  /** Downloads a picture from the Koala box (no cookie). */
  fetchImage(url: string): Promise<{ contentType: string; body: Buffer }>;
  /** POST /subject with subject_type 1 (front desk). Returns the new subject id. */
  createVisitor(input: KoalaVisitorInput): Promise<number>;
  /**
   * GET /subject/list?category=visitor&name= — the visitors whose name contains `name` (first
   * 100). Used to find a visitor a timed-out POST /subject may have created after all.
   */
  findVisitors(name: string): Promise<KoalaVisitor[]>;
  /** DELETE /subject/{id}; deleting what is already gone succeeds. */
  deleteSubject(subjectId: number): Promise<void>;
}
