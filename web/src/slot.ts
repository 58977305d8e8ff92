import { chinaParts, fromChina } from './format';

/** Working hours in China time, whole hours [start, end) (GET /v1/h5/config `work_hours`). */
export interface WorkHours {
  start: number;
  end: number;
}

const HALF_HOUR = 1800;

/**
 * The form's default window: the next working-hour slot at least half an hour away, on the
 * half hour, two hours long or up to the end of working hours. A time too late for an hour's
 * visit today moves to the start of the next day's working hours.
 */
export function nextWorkingSlot(nowUnix: number, hours: WorkHours, lengthHours = 2): { start: number; end: number } {
  let start = Math.ceil((nowUnix + HALF_HOUR) / HALF_HOUR) * HALF_HOUR;
  const p = chinaParts(start);
  const opens = fromChina(p.year, p.month, p.day, hours.start);
  const closes = fromChina(p.year, p.month, p.day, hours.end);
  if (start < opens) start = opens;
  else if (start + 3600 > closes) start = fromChina(p.year, p.month, p.day + 1, hours.start);
  const q = chinaParts(start);
  const dayEnd = fromChina(q.year, q.month, q.day, hours.end);
  return { start, end: Math.min(start + lengthHours * 3600, Math.max(dayEnd, start + HALF_HOUR)) };
}
