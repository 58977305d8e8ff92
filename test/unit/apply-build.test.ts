import { describe, expect, it } from 'vitest';
import { TEMPLATE_NAMES, type Config } from '../../src/config.js';
import { authorizedFacts, buildApplication, phonesOf, type BuildInput } from '../../src/modules/applications/build.js';
import { RECORD_KEYS } from '../../src/modules/applications/schemas.js';
import { VISIT_WINDOW } from '../../src/limits.js';
import { validateApplication } from '../../src/modules/applications/validate.js';

const NOW = 1_800_000_000;
const HOST = '13800000001';
const VISITOR = '13900000001';
const COMPANION = '13900000002';

const templates: Config['templates'] = {
  sms: Object.fromEntries(TEMPLATE_NAMES.map((n) => [n, `SMS_${n}`])) as Config['templates']['sms'],
  wechat: Object.fromEntries(TEMPLATE_NAMES.map((n) => [n, `WX_${n}`])) as Config['templates']['wechat'],
};

function input(kind: 'invitation' | 'request', extra: Partial<BuildInput> = {}): BuildInput {
  const valid = validateApplication(
    {
      name: '王五',
      phone: VISITOR,
      interviewee: '张',
      interviewee_phone: HOST,
      come_from: '某公司',
      start_time: NOW + 3600,
      end_time: NOW + 7200,
      retinues: [{ name: '甲', phone: COMPANION }],
    },
    NOW,
    VISIT_WINDOW,
  );
  return {
    caller: { weixinUserId: 'wx-1', phone: kind === 'invitation' ? HOST : VISITOR },
    valid,
    kind,
    purpose: { label: '商务', value: 2 },
    host: { name: '张伟', subjectId: 7 },
    createdAt: NOW,
    templates,
    recordsUrl: 'https://laifang.example/h5/#/records',
    audited: true,
    ...extra,
  };
}

describe('buildApplication (pure)', () => {
  it("an invitation: authorized as it is made, Koala's name for the host, every key of the record", () => {
    const b = buildApplication(input('invitation'));
    expect([...Object.keys(b.record), 'id'].sort()).toEqual([...RECORD_KEYS].sort());
    expect(b.record).toEqual({
      subject_type: 1,
      name: '王五',
      phone: VISITOR,
      purpose: 2,
      purpose_name: '商务',
      come_from: '某公司',
      remark: '',
      proposer: HOST,
      interviewee: '张伟',
      interviewee_phone: HOST,
      start_time: NOW + 3600,
      end_time: NOW + 7200,
      is_auth: 1,
      auth_time: NOW,
      created_at: NOW,
      retinues: [{ name: '甲', phone: COMPANION }],
      status: 'approved',
      status_reason: '',
      signin_time: null,
      signout_time: null,
    });
    expect(b.row).toMatchObject({ kind: 'invitation', proposerWeixinUserId: 'wx-1', intervieweeSubjectId: 7, isAuth: 1, authTime: NOW, createdAt: NOW });
    expect(b.people).toEqual([
      { role: 'host', name: '张伟', phone: HOST },
      { role: 'visitor', name: '王五', phone: VISITOR },
      { role: 'companion', name: '甲', phone: COMPANION },
    ]);
    expect(b.audit).toEqual({ actorKind: 'staff', actorId: HOST, action: 'application.authorize', detail: { via: 'invitation' } });
    // The visitor and each companion are told, by SMS and WeChat (§5).
    expect(b.outbox.map((n) => [n.event, n.channel, n.phone, n.template])).toEqual([
      ['invitation_created', 'sms', VISITOR, 'approval_pass_to_visitor'],
      ['invitation_created', 'wechat', VISITOR, 'approval_pass_to_visitor'],
      ['invitation_created', 'sms', COMPANION, 'approval_pass_to_visitor'],
      ['invitation_created', 'wechat', COMPANION, 'approval_pass_to_visitor'],
    ]);
  });

  it('a request: not authorized, no audit entry, the host and the visitor are told', () => {
    const b = buildApplication(input('request'));
    expect(b.record).toMatchObject({ proposer: VISITOR, is_auth: 0, auth_time: null });
    expect(b.row).toMatchObject({ kind: 'request', isAuth: 0, authTime: null });
    expect(b.audit).toBeNull();
    expect(b.outbox.map((n) => [n.event, n.phone, n.template])).toEqual([
      ['request_created', HOST, 'approval_reminder_to_employee'],
      ['request_created', HOST, 'approval_reminder_to_employee'],
      ['request_created', VISITOR, 'application_submitted_to_visitor'],
      ['request_created', VISITOR, 'application_submitted_to_visitor'],
    ]);
  });

  it('an invitation without an audit log writes no audit row', () => {
    expect(buildApplication(input('invitation', { audited: false })).audit).toBeNull();
  });

  it('the phones whose lists change, and the facts of an authorization', () => {
    const b = buildApplication(input('request'));
    const record = { id: 9, ...b.record };
    expect(phonesOf(record)).toEqual([HOST, VISITOR, COMPANION]);
    expect(authorizedFacts(record)).toEqual({
      kind: 'request',
      name: '王五',
      phone: VISITOR,
      company: '某公司',
      proposer: VISITOR,
      interviewee: '张伟',
      intervieweePhone: HOST,
      startTime: NOW + 3600,
      endTime: NOW + 7200,
      retinues: [{ name: '甲', phone: COMPANION }],
    });
  });
});
