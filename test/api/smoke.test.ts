import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anApplication, aStaff } from '../helpers/factories.js';
import { STAFF, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('smoke', () => {
  it('a staff invitation with two companions notifies all three by SMS and WeChat', async () => {
    const staff = await aStaff(h, 'zhangwei', { openid: 'wx-zhangwei' });
    h.sims.cloud.bind('wx-visitor', '13900000001');
    h.sims.cloud.bind('wx-companion-1', '13900000002');
    const record = await anApplication(h, {
      by: staff,
      visitor: { name: '王五', phone: '13900000001' },
      retinues: [
        { name: '赵六', phone: '13900000002' },
        { name: '孙七', phone: '139-0000-0003' },
      ],
    });
    expect(record).toMatchObject({ is_auth: 1, proposer: STAFF.zhangwei.phone, interviewee: '张伟' });
    await h.waitFor(() => h.sims.sms.messages().length === 3 && h.sims.cloud.messages().length === 2, { what: '3 SMS and 2 WeChat messages' });
    expect(
      h.sims.sms
        .messages()
        .map((m) => m.phone)
        .sort(),
    ).toEqual(['13900000001', '13900000002', '13900000003']);
  });
});
