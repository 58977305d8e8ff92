import { AppError } from '../../errors.js';
import type { ApplicationRecord, VisitStatus } from '../applications/schemas.js';

/** Who the caller is to a visit; a phone may be several at once (a visitor who proposed). */
export interface Roles {
  proposer: boolean;
  host: boolean;
  visitor: boolean;
  companion: boolean;
}

export function rolesOf(r: ApplicationRecord, phone: string): Roles {
  return {
    proposer: r.proposer === phone,
    host: r.interviewee_phone === phone,
    visitor: r.phone === phone,
    companion: r.retinues.some((c) => c.phone === phone),
  };
}

export const isParty = (roles: Roles): boolean => roles.proposer || roles.host || roles.visitor || roles.companion;

/** Statuses in which the visit has not started and has not ended: it may still be cancelled or moved. */
export const OPEN_STATUSES: readonly VisitStatus[] = ['pending', 'approved'];

export type Action = 'reject' | 'cancel' | 'reschedule';

/**
 * The one rule of who may do what, when (pure). Anyone who is not a party: 404 (the visit is not
 * revealed). A party without the right: 403. Then the status: `reject` while pending, `cancel`
 * and `reschedule` before sign-in, else 409. A second reject or cancel of the same visit is not
 * an error: the caller gets the record as it stands (`'again'`).
 */
export function decide(action: Action, r: ApplicationRecord, phone: string): 'do' | 'again' {
  const roles = rolesOf(r, phone);
  if (!isParty(roles)) throw new AppError('NOT_FOUND');
  if (action === 'reject') {
    if (!roles.host) throw new AppError('FORBIDDEN', '只有被访人可以拒绝来访申请');
    if (r.status === 'rejected') return 'again';
    if (r.status !== 'pending') throw new AppError('CONFLICT', `来访${STATUS_TEXT[r.status]}，不能再拒绝`);
    return 'do';
  }
  if (action === 'cancel') {
    if (!roles.host && !roles.proposer) throw new AppError('FORBIDDEN', '只有申请人或被访人可以取消来访');
    if (r.status === 'cancelled') return 'again';
    if (!OPEN_STATUSES.includes(r.status)) throw new AppError('CONFLICT', `来访${STATUS_TEXT[r.status]}，不能取消`);
    return 'do';
  }
  if (!roles.host && !(roles.proposer && roles.visitor)) throw new AppError('FORBIDDEN', '只有被访人或提出申请的访客可以修改来访时间');
  if (!OPEN_STATUSES.includes(r.status)) throw new AppError('CONFLICT', `来访${STATUS_TEXT[r.status]}，不能修改时间`);
  return 'do';
}

/** How a status reads in a refusal ("来访已签到，不能取消"). */
export const STATUS_TEXT: Record<VisitStatus, string> = {
  pending: '待授权',
  approved: '已授权',
  rejected: '已被拒绝',
  cancelled: '已取消',
  expired: '已过期',
  signed_in: '已签到',
  checked_out: '已签退',
  no_show: '已过期（未到访）',
};
