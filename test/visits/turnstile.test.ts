import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { device, expectFailure, invite, scan, signin, startDesk, type Desk } from './helpers.js';

let d: Desk;
beforeAll(async () => {
  d = await startDesk();
});
afterAll(async () => {
  await d.close();
});

const admitted = (res: { status: number; body: any }) => {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.code).toBe(0);
  return res.body.data as { id: number; name: string; end_time: number };
};

describe('turnstile (front-desk acceptance)', () => {
  it('admits each pass inside the window and refuses it before, after, and after check-out', async () => {
    const inv = await invite(d, { companions: 2, hoursFromNow: 0.25, lengthHours: 1 });
    // Each person's own pass: the kiosk shows the pass of the phone typed, and no one else's.
    const people: Array<{ name: string; qrcode: string }> = [];
    for (const phone of [inv.visitor.phone, ...inv.companions.map((c) => c.phone)]) {
      const data = (await signin(d, phone)).body.data;
      people.push([data, ...data.retinues].find((p: { phone: string }) => p.phone === phone));
    }

    // Signed in 15 minutes early: not yet.
    for (const p of people) expectFailure(await scan(d, p.qrcode), 403, 'PASS_NOT_YET_VALID', '通行权限尚未生效');
    d.clock.advance(20 * 60);
    for (const p of people) expect(admitted(await scan(d, p.qrcode))).toEqual({ id: inv.id, name: p.name, end_time: inv.end_time });
    // A kiosk may check a pass too.
    expect(admitted(await scan(d, people[0]!.qrcode, d.kiosk)).id).toBe(inv.id);

    // Explicit check-out: every pass refused at once, even though the window is still open.
    expect((await d.h.request('POST', '/v1/visit/signout', { headers: device(d.kiosk), body: { id: inv.id } })).status).toBe(200);
    for (const p of people) expectFailure(await scan(d, p.qrcode), 403, 'PASS_EXPIRED', '通行权限已过期');
    d.clock.advance(-20 * 60);
  });

  it('refuses after the end of the window (by time, whether or not the automatic check-out has run yet)', async () => {
    const inv = await invite(d, { companions: 0, hoursFromNow: 0, lengthHours: 1 });
    const data = (await signin(d, inv.visitor.phone)).body.data;
    expect(admitted(await scan(d, data.qrcode)).name).toBe(inv.visitor.name);
    d.clock.advance(3600);
    try {
      expectFailure(await scan(d, data.qrcode), 403, 'PASS_EXPIRED', '通行权限已过期');
    } finally {
      d.clock.advance(-3600);
    }
  });

  it('a forged, unknown, malformed or swapped pass is PASS_INVALID, one answer for all', async () => {
    const a = await invite(d, { companions: 0, hoursFromNow: 0 });
    const b = await invite(d, { companions: 0, hoursFromNow: 0 });
    const qa = JSON.parse((await signin(d, a.visitor.phone)).body.data.qrcode) as { id: number; qrcode: string };
    expect(admitted(await scan(d, JSON.stringify(qa))).id).toBe(a.id);
    const flipped = qa.qrcode.slice(0, -1) + (qa.qrcode.endsWith('A') ? 'B' : 'A');
    const bad = [
      JSON.stringify({ id: a.id, qrcode: flipped }), // forged token
      JSON.stringify({ id: b.id, qrcode: qa.qrcode }), // a real token under another visit's id
      JSON.stringify({ id: a.id, qrcode: 'x'.repeat(43) }),
      JSON.stringify({ id: String(a.id), qrcode: qa.qrcode }),
      JSON.stringify({ qrcode: qa.qrcode }),
      JSON.stringify([a.id, qa.qrcode]),
      qa.qrcode,
      'not json',
      '',
    ];
    const answers = await Promise.all(bad.map((q) => scan(d, q)));
    for (const res of answers) expectFailure(res, 403, 'PASS_INVALID', '无效的通行码');
    // Same body for every kind of bad pass: nothing tells a forger which part was wrong.
    expect(new Set(answers.map((r) => JSON.stringify({ ...r.body, request_id: undefined }))).size).toBe(1);
  });

  it('needs a device: no credential or a phone session is 401; bad input is 400', async () => {
    expectFailure(await d.h.request('POST', '/v1/visit/qrcode', { body: { qrcode: '{}' } }), 401, 'UNAUTHENTICATED');
    expectFailure(await d.h.request('POST', '/v1/visit/qrcode', { token: d.host, body: { qrcode: '{}' } }), 401, 'UNAUTHENTICATED');
    expectFailure(
      await d.h.request('POST', '/v1/visit/qrcode', { headers: { authorization: 'Device dev_nope' }, body: { qrcode: '{}' } }),
      401,
      'UNAUTHENTICATED',
    );
    expectFailure(
      await d.h.request('POST', '/v1/visit/qrcode', { headers: { authorization: `Device ${d.turnstile}` }, body: { qrcode: 5 } }),
      400,
      'VALIDATION_FAILED',
    );
    expectFailure(
      await d.h.request('POST', '/v1/visit/qrcode', { headers: { authorization: `Device ${d.turnstile}` }, body: { qrcode: 'x'.repeat(2000) } }),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('makes no outside call: Koala down does not matter, and it sees nothing while passes are checked', async () => {
    const inv = await invite(d, { companions: 0, hoursFromNow: 0 });
    const data = (await signin(d, inv.visitor.phone)).body.data;
    await d.h.waitFor(async () => d.h.sims.koala.visitors().some((v) => v.id === data.subject_id), { what: 'the Koala visitor' });
    // The Koala jobs of this file's earlier check-outs (a deletion also searches for a visitor a
    // lost answer may have left) finish first: what reaches Koala from here on is the door's.
    await d.h.waitFor(
      async () => {
        const r = (await d.h.database.db.execute(
          sql`select count(*)::int as n from pgboss.job where name = 'koala-sync' and state in ('created', 'retry', 'active')`,
        )) as unknown as { rows: Array<{ n: number }> };
        return r.rows[0]!.n === 0;
      },
      { what: 'the Koala jobs of earlier tests to finish', timeoutMs: 30_000 },
    );
    const before = d.h.sims.koala.server.received.length;
    // Koala down does not matter to the door.
    d.h.sims.koala.server.setFault({ status: 0 });
    try {
      for (let i = 0; i < 20; i++) admitted(await scan(d, data.qrcode));
    } finally {
      d.h.sims.koala.server.setFault(null);
    }
    // (Background delivery of earlier notifications may still reach WeChat and SMS, and the
    // check-outs of this file's earlier tests may still be deleting their own Koala visitors:
    // those jobs run on their own time. Nothing else may reach Koala, least of all about this pass.)
    const during = d.h.sims.koala.server.received.slice(before).map((r: { method: string; path: string }) => `${r.method} ${r.path}`);
    const ownSubject = `/subject/${data.subject_id}`;
    expect(
      during.filter((r: string) => !(r.startsWith('DELETE /subject/') && !r.endsWith(ownSubject))),
      JSON.stringify(during),
    ).toEqual([]);
  });
});
