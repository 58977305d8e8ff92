import type { Config } from '../../config.js';
import { planNotifications, type ApplicationFacts, type PlannedNotification } from '../notifications/plan.js';
import type { BatchAuditRow, NewApplication, NewPerson } from './repo.js';
import type { ApplicationRecord } from './schemas.js';
import type { ApplicationKind, Purpose, ValidApplication } from './validate.js';

/** The host as Koala has it: its name is the one stored, whatever the caller typed. */
export interface Host {
  name: string;
  subjectId: number;
}

export interface BuildInput {
  caller: { weixinUserId: string; phone: string };
  valid: ValidApplication;
  kind: ApplicationKind;
  purpose: Purpose;
  host: Host;
  /** Unix seconds. */
  createdAt: number;
  templates: Config['templates'];
  recordsUrl: string;
  /** Whether the authorization of an invitation is audited. */
  audited: boolean;
}

/** Everything one application writes, and the answer it gets (its id comes from the write). */
export interface BuiltApplication {
  row: NewApplication;
  people: NewPerson[];
  outbox: PlannedNotification[];
  audit: BatchAuditRow | null;
  record: Omit<ApplicationRecord, 'id'>;
}

/**
 * The application's rows from a valid request, pure: the row, its people (host, visitor,
 * companions in order), the messages it sends (§5) and, for a staff invitation, which its host
 * authorizes as it is made, the audit entry of that authorization.
 */
export function buildApplication(b: BuildInput): BuiltApplication {
  const { valid, kind, host, createdAt } = b;
  const invitation = kind === 'invitation';
  const facts: ApplicationFacts = {
    kind,
    name: valid.name,
    phone: valid.phone,
    company: valid.comeFrom,
    proposer: b.caller.phone,
    interviewee: host.name,
    intervieweePhone: valid.hostPhone,
    startTime: valid.startTime,
    endTime: valid.endTime,
    retinues: valid.retinues,
  };
  const record: Omit<ApplicationRecord, 'id'> = {
    subject_type: 1,
    name: valid.name,
    phone: valid.phone,
    purpose: b.purpose.value,
    purpose_name: b.purpose.label,
    come_from: valid.comeFrom,
    remark: valid.remark,
    proposer: b.caller.phone,
    interviewee: host.name,
    interviewee_phone: valid.hostPhone,
    start_time: valid.startTime,
    end_time: valid.endTime,
    is_auth: invitation ? 1 : 0,
    auth_time: invitation ? createdAt : null,
    created_at: createdAt,
    retinues: valid.retinues.map((r) => ({ name: r.name, phone: r.phone })),
    status: invitation ? 'approved' : 'pending',
    status_reason: '',
    signin_time: null,
    signout_time: null,
  };
  return {
    row: rowOf(record, kind, b.caller.weixinUserId, host.subjectId),
    people: [
      { role: 'host', name: host.name, phone: valid.hostPhone },
      { role: 'visitor', name: valid.name, phone: valid.phone },
      ...valid.retinues.map((r) => ({ role: 'companion' as const, name: r.name, phone: r.phone })),
    ],
    outbox: planNotifications(invitation ? 'invitation_created' : 'request_created', facts, b.templates, b.recordsUrl),
    audit: invitation && b.audited ? { actorKind: 'staff', actorId: b.caller.phone, action: 'application.authorize', detail: { via: 'invitation' } } : null,
    record,
  };
}

function rowOf(r: Omit<ApplicationRecord, 'id'>, kind: ApplicationKind, weixinUserId: string, subjectId: number): NewApplication {
  return {
    subjectType: r.subject_type,
    kind,
    name: r.name,
    phone: r.phone,
    purpose: r.purpose,
    purposeName: r.purpose_name,
    comeFrom: r.come_from,
    remark: r.remark,
    proposer: r.proposer,
    proposerWeixinUserId: weixinUserId,
    interviewee: r.interviewee,
    intervieweePhone: r.interviewee_phone,
    intervieweeSubjectId: subjectId,
    startTime: r.start_time,
    endTime: r.end_time,
    isAuth: r.is_auth,
    authTime: r.auth_time,
    createdAt: r.created_at,
  };
}

/** The phones whose record lists an application appears in. */
export function phonesOf(r: Pick<ApplicationRecord, 'interviewee_phone' | 'phone' | 'retinues'>): string[] {
  return [r.interviewee_phone, r.phone, ...r.retinues.map((x) => x.phone)];
}

/** The facts of the message a visitor request's authorization sends, from its record. */
export function authorizedFacts(r: ApplicationRecord): ApplicationFacts {
  return {
    kind: 'request',
    name: r.name,
    phone: r.phone,
    company: r.come_from,
    proposer: r.proposer,
    interviewee: r.interviewee,
    intervieweePhone: r.interviewee_phone,
    startTime: r.start_time,
    endTime: r.end_time,
    retinues: r.retinues,
  };
}
