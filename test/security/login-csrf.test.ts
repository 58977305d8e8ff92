import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newOpenid, newPhone } from '../helpers/apply.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { authorizeUrl, exchange, startRound, type OAuthRound } from '../helpers/oauth.js';

/**
 * Login CSRF on the WeChat OAuth entry: an attacker goes through WeChat themselves and sends the
 * victim a link to /h5/?code=<their code>&state=<their state>. Were it exchanged in the victim's
 * browser, the victim would be signed in as the attacker's WeChat, and a phone they then bind
 * would be bound to the attacker, who acts as the victim from then on. The code must only be
 * exchanged in the browser that started the round: its state cookie must match the state.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

const FOREIGN = '此登录链接不是在您的浏览器中发起的（可能是他人发来的链接），为保护您的账号，未登录。请重新登录';

/** The trip through WeChat over HTTP, as a browser makes it: the simulator's authorize answers a redirect. */
async function viaWechat(openid: string, round: OAuthRound): Promise<{ code: string; state: string }> {
  const url = new URL(authorizeUrl(h.sims.oauth, 'http://laifang.test/h5/', round.state));
  const sim = new URL(`${h.sims.oauth.url}${url.pathname}${url.search}`);
  sim.searchParams.set('sim_openid', openid);
  const res = await fetch(sim, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const back = new URL(res.headers.get('location') ?? '');
  expect(`${back.origin}${back.pathname}`).toBe('http://laifang.test/h5/');
  return { code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' };
}

const exchanges = () => h.sims.oauth.server.received.filter((r) => r.path === '/sns/oauth2/access_token').length;

describe('the OAuth round', () => {
  it('starts with a random state kept in an httpOnly, SameSite cookie for the session routes only', async () => {
    const res = await h.request('POST', '/v1/session/state');
    expect(res.status).toBe(200);
    const state = res.body.data.state as string;
    expect(state).toMatch(/^[0-9a-f]{32}$/);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toBe(`laifang_oauth_state=${state}; Path=/v1/session; Max-Age=600; HttpOnly; SameSite=Lax`);
    expect((await h.request('POST', '/v1/session/state')).body.data.state).not.toBe(state);
  });

  it('the OAuth simulator sends the state back unchanged with the code, as WeChat does', async () => {
    const round = await startRound(h.post);
    const back = await viaWechat('wx-csrf-echo', round);
    expect(back.state).toBe(round.state);
    expect(back.code).toMatch(/^[0-9a-f]{32}$/);
    // A wrong appid is WeChat's error, not a redirect.
    const bad = await fetch(
      `${h.sims.oauth.url}/connect/oauth2/authorize?appid=nope&redirect_uri=http%3A%2F%2Fx%2F&response_type=code&scope=snsapi_base&state=s&sim_openid=o`,
      {
        redirect: 'manual',
      },
    );
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ errcode: 40013 });
  });
});

describe('an attacker’s code and state in the victim’s browser', () => {
  it('is refused whatever the victim’s browser holds; the attacker’s code is not even exchanged', async () => {
    const attackerWx = newOpenid('wx-attacker');
    const attackerRound = await startRound(h.post);
    const attackerBack = await viaWechat(attackerWx, attackerRound);
    // The victim's browser: a round of its own (another cookie), or none at all.
    const victimRound = await startRound(h.post);
    const before = exchanges();
    for (const [label, round] of [
      ['the victim’s own cookie', victimRound],
      ['no cookie', null],
      ['a cookie with no value', { state: '', cookie: 'laifang_oauth_state=' }],
      ['a garbled cookie', { state: '', cookie: `laifang_oauth_state=${attackerBack.state}x` }],
    ] as const) {
      const res = await exchange(h.post, round, attackerBack.code, attackerBack.state);
      expect([label, res.status, res.body]).toEqual([label, 401, { code: 401, error: 'UNAUTHENTICATED', err_msg: FOREIGN }]);
    }
    // An empty or missing state is no better.
    expect((await exchange(h.post, victimRound, attackerBack.code, '')).status).toBe(401);
    expect((await h.request('POST', '/v1/session', { body: { code: attackerBack.code } })).status).toBe(400);
    expect(exchanges()).toBe(before);

    // The victim, refused, binds nothing: without a session binding is 401.
    const bind = await h.request('POST', '/v1/visitor/binding', { body: { phone: newPhone(), sms_code: '000000' } });
    expect(bind.status).toBe(401);
    expect(h.sims.cloud.bindings().some((b) => b.weixinUserId === attackerWx)).toBe(false);

    // In the browser that started it the same pair works (the refusals were about the browser).
    const own = await exchange(h.post, attackerRound, attackerBack.code, attackerBack.state);
    expect(own.status).toBe(200);
    expect(own.body.data.weixinUserId).toBe(attackerWx);
    // The exchange spends the state: the cookie is cleared.
    expect(String(own.setCookie)).toBe('laifang_oauth_state=; Path=/v1/session; Max-Age=0; HttpOnly; SameSite=Lax');
  });

  it('the victim’s own round signs the victim in', async () => {
    const victimWx = newOpenid('wx-victim');
    const round = await startRound(h.post);
    const back = await viaWechat(victimWx, round);
    const res = await exchange(h.post, round, back.code, back.state);
    expect(res.status).toBe(200);
    expect(res.body.data.weixinUserId).toBe(victimWx);
  });

  it('a state taken from one browser does not open another browser’s round', async () => {
    const one = await startRound(h.post);
    const two = await startRound(h.post);
    const back = await viaWechat(newOpenid('wx-csrf-swap'), one);
    expect((await exchange(h.post, two, back.code, back.state)).status).toBe(401);
    expect((await exchange(h.post, one, back.code, two.state)).status).toBe(401);
  });
});
