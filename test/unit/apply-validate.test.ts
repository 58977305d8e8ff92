import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { LIMITS, VISIT_WINDOW } from '../../src/limits.js';
import type { ApplyInput } from '../../src/modules/applications/schemas.js';
import { choosePurpose, kindOf, textField, validateApplication as validateWith } from '../../src/modules/applications/validate.js';

const validateApplication = (input: ApplyInput, now: number) => validateWith(input, now, VISIT_WINDOW);

const NOW = 1_800_000_000;
const HOST = '13800000001';
const VISITOR = '13900000001';

function body(extra: Partial<ApplyInput> = {}): ApplyInput {
  return { name: '王五', phone: VISITOR, interviewee: '张伟', interviewee_phone: HOST, start_time: NOW + 3600, end_time: NOW + 7200, ...extra };
}

/** The AppError a call throws: its code and message. */
function failure(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (err) {
    if (err instanceof AppError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('did not throw');
}

describe('validateApplication (3.7, pure)', () => {
  it('normalises: phones to 11 digits, text trimmed, defaults empty', () => {
    const v = validateApplication(
      body({
        name: ' 王五 ',
        phone: `+86 ${VISITOR}`,
        interviewee: ' 张伟',
        interviewee_phone: `0086-${HOST}`,
        retinues: [{ name: '甲 ', phone: '139 0000 0002' }],
      }),
      NOW,
    );
    expect(v).toEqual({
      name: '王五',
      phone: VISITOR,
      interviewee: '张伟',
      hostPhone: HOST,
      comeFrom: '',
      remark: '',
      retinues: [{ name: '甲', phone: '13900000002' }],
      startTime: NOW + 3600,
      endTime: NOW + 7200,
    });
  });

  it('the limits of LIMITS are accepted, one more character is a 400 naming the field', () => {
    const atLimit = body({ name: '王'.repeat(LIMITS.personName), come_from: 'c'.repeat(LIMITS.company), remark: '备'.repeat(LIMITS.remark) });
    expect(validateApplication(atLimit, NOW).name).toHaveLength(LIMITS.personName);
    const over: Array<[string, Partial<ApplyInput>]> = [
      ['name', { name: '王'.repeat(LIMITS.personName + 1) }],
      ['come_from', { come_from: 'c'.repeat(LIMITS.company + 1) }],
      ['remark', { remark: 'r'.repeat(LIMITS.remark + 1) }],
      ['retinues[0].name', { retinues: [{ name: '名'.repeat(LIMITS.personName + 1), phone: '13900000002' }] }],
    ];
    for (const [field, extra] of over) {
      const f = failure(() => validateApplication(body(extra), NOW));
      expect(f.code).toBe('VALIDATION_FAILED');
      expect(f.message).toContain(field);
    }
  });

  it('counts characters, not UTF-16 units', () => {
    expect(textField('name', '😀'.repeat(32), 1, 32)).toBe('😀'.repeat(32));
    expect(failure(() => textField('name', '😀'.repeat(33), 1, 32)).message).toContain('name');
  });

  it('control characters are refused; a remark may break lines', () => {
    expect(failure(() => validateApplication(body({ name: '王\u0000五' }), NOW)).message).toContain('name');
    expect(failure(() => validateApplication(body({ remark: '\u001b[31m' }), NOW)).message).toContain('remark');
    expect(validateApplication(body({ remark: '一\n二\t三' }), NOW).remark).toBe('一\n二\t三');
  });

  it('bidi overrides, zero-width and other format characters are refused in every text field, named with the character', () => {
    const hidden = ['\u202e', '\u202a', '\u2066', '\u2069', '\u200b', '\u200c', '\u200d', '\u200e', '\u2060', '\u00ad', '\u2028', '\u0085', '\u{e0041}'];
    for (const ch of hidden) {
      for (const [field, extra] of [
        ['name', { name: `王${ch}五` }],
        ['interviewee', { interviewee: `张${ch}伟` }],
        ['come_from', { come_from: `某${ch}公司` }],
        ['remark', { remark: `备${ch}注` }],
        ['retinues[0].name', { retinues: [{ name: `甲${ch}乙`, phone: '13900000002' }] }],
      ] as Array<[string, Partial<ApplyInput>]>) {
        const f = failure(() => validateApplication(body(extra), NOW));
        expect(f.code).toBe('VALIDATION_FAILED');
        expect(f.message).toContain(field);
        expect(f.message).toContain(`U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
      }
    }
  });

  it('text is kept in NFC: a decomposed name is stored composed, and counted so', () => {
    const v = validateApplication(body({ name: 'Jose\u0301', come_from: ' Cafe\u0301 ' }), NOW);
    expect(v.name).toBe('Jos\u00e9');
    expect(v.comeFrom).toBe('Caf\u00e9');
    // 32 composed characters typed decomposed (64 code points) are 32 characters.
    expect(textField('name', 'e\u0301'.repeat(32), 1, 32)).toBe('\u00e9'.repeat(32));
  });

  it('phones through phoneField: the field is named', () => {
    expect(failure(() => validateApplication(body({ phone: '12345' }), NOW)).message).toContain('phone');
    expect(failure(() => validateApplication(body({ interviewee_phone: 'x' }), NOW)).message).toContain('interviewee_phone');
    expect(failure(() => validateApplication(body({ retinues: [{ name: '甲', phone: '1' }] }), NOW)).message).toContain('retinues[0].phone');
  });

  it('the window: start before end, end in the future', () => {
    expect(failure(() => validateApplication(body({ start_time: NOW + 10, end_time: NOW + 10 }), NOW)).message).toContain('end_time');
    expect(failure(() => validateApplication(body({ start_time: NOW - 100, end_time: NOW }), NOW)).message).toContain('end_time');
    expect(validateApplication(body({ start_time: NOW - 100, end_time: NOW + 1 }), NOW).endTime).toBe(NOW + 1);
  });

  it('the window lasts at most MAX_VISIT_HOURS and starts within MAX_DAYS_AHEAD days', () => {
    const H = 3600;
    const DAY = 86_400;
    expect(validateApplication(body({ start_time: NOW + H, end_time: NOW + H + 24 * H }), NOW).endTime).toBe(NOW + 25 * H);
    const long = failure(() => validateApplication(body({ start_time: NOW + H, end_time: NOW + H + 24 * H + 1 }), NOW));
    expect(long).toEqual({ code: 'VALIDATION_FAILED', message: '字段 end_time：一次来访最长 24 小时' });
    // 1970 to 2100: too long, whatever else.
    expect(failure(() => validateApplication(body({ start_time: 0, end_time: 4_102_444_800 }), NOW)).message).toContain('24 小时');
    // A visit in progress may be applied for (the contract asks only for a future end), so it started at most a day ago.
    expect(validateApplication(body({ start_time: NOW - 23 * H, end_time: NOW + H }), NOW).startTime).toBe(NOW - 23 * H);
    expect(failure(() => validateApplication(body({ start_time: NOW - 24 * H, end_time: NOW + H }), NOW)).message).toContain('24 小时');
    expect(validateApplication(body({ start_time: NOW + 90 * DAY, end_time: NOW + 90 * DAY + H }), NOW).startTime).toBe(NOW + 90 * DAY);
    const far = failure(() => validateApplication(body({ start_time: NOW + 90 * DAY + 1, end_time: NOW + 90 * DAY + H }), NOW));
    expect(far).toEqual({ code: 'VALIDATION_FAILED', message: '字段 start_time：来访开始时间最晚为 90 天之后' });
    // The configured limits, not the defaults.
    expect(failure(() => validateWith(body({ start_time: NOW + H, end_time: NOW + 3 * H }), NOW, { maxHours: 1, maxDaysAhead: 1 })).message).toContain(
      '1 小时',
    );
    expect(validateWith(body({ start_time: NOW + H, end_time: NOW + 40 * H }), NOW, { maxHours: 48, maxDaysAhead: 1 }).endTime).toBe(NOW + 40 * H);
  });

  it('one phone per person, after normalisation', () => {
    expect(failure(() => validateApplication(body({ interviewee_phone: VISITOR }), NOW)).message).toContain('interviewee_phone');
    const twice = body({
      retinues: [
        { name: '甲', phone: '13722223333' },
        { name: '乙', phone: '+86 137-2222-3333' },
      ],
    });
    expect(failure(() => validateApplication(twice, NOW)).message).toContain('retinues[1].phone');
    expect(failure(() => validateApplication(body({ retinues: [{ name: '甲', phone: HOST }] }), NOW)).message).toContain('retinues[0].phone');
  });
});

describe('choosePurpose and kindOf (pure)', () => {
  const purposes = [
    { label: '其它', value: 0 },
    { label: '商务', value: 2 },
  ];

  it('no purpose is 0; an unknown one is a 400', () => {
    expect(choosePurpose(purposes, undefined)).toEqual({ label: '其它', value: 0 });
    expect(choosePurpose(purposes, 2).label).toBe('商务');
    expect(failure(() => choosePurpose(purposes, 5))).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('the host invites, the visitor requests, anybody else is NOT_PROPOSER', () => {
    const v = validateApplication(body({ retinues: [{ name: '甲', phone: '13900000002' }] }), NOW);
    expect(kindOf(HOST, v)).toBe('invitation');
    expect(kindOf(VISITOR, v)).toBe('request');
    expect(failure(() => kindOf('13900000002', v)).code).toBe('NOT_PROPOSER');
  });
});
