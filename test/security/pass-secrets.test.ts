import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../../src/db/schema.js';
import { settled } from '../helpers/apply.js';
import { invite, signin, startDesk, type Desk } from '../visits/helpers.js';

/**
 * Where a pass could leak. A pass is its QR content (the token) or the picture URL (its `k` key
 * opens the picture, which shows the token). A database dump must hold neither: the outbox keeps
 * the pass id and the worker builds the link as it sends. At the kiosk, a phone typed shows that
 * person's own pass and nobody else's pass or number, and showing a pass again is audited.
 */
let d: Desk;
beforeAll(async () => {
  d = await startDesk();
});
afterAll(async () => {
  await d?.close();
});

const masked = (phone: string) => `${phone.slice(0, 3)}****${phone.slice(7)}`;

interface PassView {
  name: string;
  phone: string;
  qrcode: string;
  qrcode_img_url: string;
}

/** The typed phone's own entry of a sign-in answer. */
function own(data: PassView & { retinues: PassView[] }, phone: string): PassView {
  const mine = [data, ...data.retinues].find((p) => p.phone === phone);
  expect(mine, `the answer shows ${masked(phone)} in full`).toBeDefined();
  return mine!;
}

describe('passes are shown only to their owner, and are not kept at rest', () => {
  it('the kiosk answer shows the typed phone’s pass; the others are a name and a masked phone', async () => {
    const inv = await invite(d, { companions: 2 });
    const first = await signin(d, inv.visitor.phone);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const data = first.body.data;
    expect(own(data, inv.visitor.phone).qrcode).toMatch(/^\{"id":\d+,"qrcode":"[A-Za-z0-9_-]{43}"\}$/);
    expect(data.retinues).toEqual(
      inv.companions.map((c) => ({
        subject_id: expect.toBeOneOf([null, expect.any(Number)]),
        name: c.name,
        phone: masked(c.phone),
        qrcode: '',
        qrcode_img_url: '',
      })),
    );

    // Each companion gets their own pass by typing their own phone; the first answer held none of them.
    const firstText = JSON.stringify(first.body);
    for (const c of inv.companions) {
      const mine = own((await signin(d, c.phone)).body.data, c.phone);
      const token = (JSON.parse(mine.qrcode) as { qrcode: string }).qrcode;
      expect(firstText).not.toContain(token);
      expect(firstText).not.toContain(c.phone);
      expect(firstText).not.toContain(new URL(mine.qrcode_img_url).searchParams.get('k')!);
    }

    // Every repeat is audited, by the kiosk, with the masked phone only.
    const audit = await d.h.database.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.targetId, String(inv.id)));
    expect(audit.filter((a) => a.action === 'visit.signin')).toHaveLength(1);
    const repeats = audit.filter((a) => a.action === 'visit.signin_repeat');
    expect(repeats.map((a) => [a.actorKind, (a.detail as { phone: string }).phone])).toEqual(inv.companions.map((c) => ['device', masked(c.phone)]));
    for (const p of [inv.visitor, ...inv.companions]) expect(JSON.stringify(audit)).not.toContain(p.phone);
  });

  it('no outbox row holds a pass link or token; the messages sent carry a working link to each person’s pass', async () => {
    const inv = await invite(d, { companions: 1 });
    const people = [inv.visitor, ...inv.companions];
    const passes: PassView[] = [];
    for (const p of people) passes.push(own((await signin(d, p.phone)).body.data, p.phone));
    const rows = await settled(d.h, inv.id);
    const signinRows = rows.filter((r) => r.event === 'visitor_signed_in');
    expect(signinRows.filter((r) => r.status === 'sent')).toHaveLength(2 * (people.length + 1));

    // What a dump of the outbox holds: read straight from the table.
    const dump = (await d.h.database.db.execute(sql`select payload::text as payload from notifications where application_id = ${inv.id}`)) as unknown as {
      rows: Array<{ payload: string }>;
    };
    const atRest = dump.rows.map((r) => r.payload).join('\n');
    expect(atRest).not.toContain('/v1/visit/qrcode/');
    for (const pass of passes) {
      expect(atRest).not.toContain(new URL(pass.qrcode_img_url).searchParams.get('k')!);
      expect(atRest).not.toContain((JSON.parse(pass.qrcode) as { qrcode: string }).qrcode);
    }

    // The SMS carries each person's own short code (never stored: not in the dump above); it opens that person's pass picture.
    for (const [i, p] of people.entries()) {
      const wx = d.h.sims.cloud.messages().find((m) => m.phone === p.phone && m.tplMessageId === 'WX_TPL_SIGNIN_TO_VISITOR');
      const sms = d.h.sims.sms.messages().find((m) => m.phone === p.phone && m.template_code === 'SMS_TPL_SIGNIN_TO_VISITOR');
      expect(wx?.url).toBe(`http://laifang.test/h5/#/visit/${inv.id}`);
      const code = sms!.params.code!;
      expect(atRest).not.toContain(code);
      const shown = await d.h.request('GET', `/v1/visit/pass/${code}`);
      expect(shown.status).toBe(200);
      expect(shown.body.data.qrcode_img_url).toBe(passes[i]!.qrcode_img_url);
      const img = new URL(shown.body.data.qrcode_img_url as string);
      const picture = await d.h.runtime.app.inject({ method: 'GET', url: img.pathname + img.search });
      expect(picture.statusCode).toBe(200);
      expect(picture.headers['content-type']).toBe('image/png');
    }
  });
});
