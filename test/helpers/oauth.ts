import type { WechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';

/** One POST as a client sends it; `setCookie` is the answer's Set-Cookie header, if any. */
export type Post = (path: string, body: unknown, headers: Record<string, string>) => Promise<{ status: number; body: any; setCookie?: string | string[] }>;

export interface OAuthRound {
  state: string;
  /** The `Cookie` header this browser sends back. */
  cookie: string;
}

/** `name=value` of a Set-Cookie header (or the first of several). */
export function cookiePair(setCookie: string | string[] | undefined | null): string {
  const first = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  return (first ?? '').split(';')[0] ?? '';
}

/** What the H5 page does before going to WeChat: POST /v1/session/state; the browser keeps the cookie. */
export async function startRound(post: Post): Promise<OAuthRound> {
  const res = await post('/v1/session/state', undefined, {});
  if (res.status !== 200) throw new Error(`POST /v1/session/state: ${res.status} ${JSON.stringify(res.body)}`);
  return { state: res.body.data.state as string, cookie: cookiePair(res.setCookie) };
}

/** WeChat's authorize URL as the H5 page builds it. */
export function authorizeUrl(oauth: Pick<WechatOAuthSimulator, 'appId'>, redirectUri: string, state: string): string {
  const q = new URLSearchParams({ appid: oauth.appId, redirect_uri: redirectUri, response_type: 'code', scope: 'snsapi_base', state });
  return `https://open.weixin.qq.com/connect/oauth2/authorize?${q.toString()}#wechat_redirect`;
}

/** The trip through WeChat (the simulator's authorize): the code and the state it sent back. */
export function throughWechat(oauth: Pick<WechatOAuthSimulator, 'appId' | 'authorize'>, openid: string, state: string): { code: string; state: string } {
  const back = new URL(oauth.authorize(authorizeUrl(oauth, 'http://laifang.test/h5/', state), openid));
  return { code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '' };
}

/** POST /v1/session as the browser that holds `round` sends it. */
export function exchange(post: Post, round: OAuthRound | null, code: string, state: string) {
  return post('/v1/session', { code, state }, round?.cookie ? { cookie: round.cookie } : {});
}

/** A whole sign-in as a browser does it; the answer of POST /v1/session. */
export async function oauthSignIn(post: Post, oauth: Pick<WechatOAuthSimulator, 'appId' | 'authorize'>, openid: string) {
  const round = await startRound(post);
  const back = throughWechat(oauth, openid, round.state);
  return exchange(post, round, back.code, back.state);
}

/** A Post over fetch to a running service (`headers` added to every request). */
export function fetchPost(base: string, headers: Record<string, string> = {}): Post {
  return async (path, body, extra) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { ...headers, ...extra, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: json, setCookie: res.headers.get('set-cookie') ?? undefined };
  };
}
