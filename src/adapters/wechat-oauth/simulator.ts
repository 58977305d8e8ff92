import { randomBytes } from 'node:crypto';
import { createSimServer, type SimServer } from '../simulator.js';

/**
 * WeChat web OAuth over HTTP (api-contract.md §8). `GET /connect/oauth2/authorize` stands in for
 * open.weixin.qq.com: it sends the browser back to `redirect_uri` with a code and the `state`
 * it was given, unchanged, as WeChat does; the WeChat user is named by `sim_openid` (WeChat
 * knows who holds the phone). `sns/oauth2/access_token` exchanges a code, with WeChat's
 * errcodes: 40013 bad appid, 40125 bad secret, 40002 bad grant_type, 41008 missing code,
 * 40029 unknown code, 40163 code already used, 42003 code expired. Codes also come from
 * `issueCode(openid)` or `POST /__sim/oauth/codes {"openid"}` → `{"code"}`; each works once
 * and expires after 5 minutes, as WeChat's do.
 */
export interface WechatOAuthSimulatorOptions {
  port?: number;
  appId?: string;
  appSecret?: string;
  /** Clock for code expiry (tests); defaults to Date.now. */
  now?: () => number;
}

export interface WechatOAuthSimulator {
  url: string;
  server: SimServer;
  appId: string;
  appSecret: string;
  close(): Promise<void>;
  issueCode(openid: string): string;
  /** Where WeChat sends the browser back for this authorize URL and user: `redirect_uri?code=…&state=…`. */
  authorize(authorizeUrl: string, openid: string): string;
  /** Forgets all codes (and the request log and any fault). */
  reset(): void;
}

export const DEFAULT_WECHAT_APP_ID = 'wx-demo-appid';
export const DEFAULT_WECHAT_APP_SECRET = 'demo-app-secret';

const CODE_TTL_MS = 5 * 60 * 1000;

export async function startWechatOAuthSimulator(opts: WechatOAuthSimulatorOptions = {}): Promise<WechatOAuthSimulator> {
  const appId = opts.appId ?? DEFAULT_WECHAT_APP_ID;
  const appSecret = opts.appSecret ?? DEFAULT_WECHAT_APP_SECRET;
  const now = opts.now ?? Date.now;
  const server = createSimServer('wechat-oauth');
  const { app } = server;
  const codes = new Map<string, { openid: string; expiresAt: number; used: boolean }>();

  // WeChat appends a request id to every errmsg; keep the shape so log parsing sees the real thing.
  const fail = (errcode: number, msg: string) => ({ errcode, errmsg: `${msg}, rid: ${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}` });

  function issueCode(openid: string): string {
    const code = randomBytes(16).toString('hex');
    codes.set(code, { openid, expiresAt: now() + CODE_TTL_MS, used: false });
    return code;
  }

  /** The redirect for an authorize request, or WeChat's error (shown on its own page, never redirected). */
  function redirectFor(q: Record<string, unknown>, openid: string): { location: string } | { errcode: number; errmsg: string } {
    const str = (k: string) => (typeof q[k] === 'string' ? (q[k] as string) : '');
    if (str('appid') !== appId) return fail(40013, 'invalid appid');
    if (str('response_type') !== 'code') return fail(10004, 'response_type must be code');
    if (str('scope') !== 'snsapi_base' && str('scope') !== 'snsapi_userinfo') return fail(10005, 'invalid scope');
    let back: URL;
    try {
      back = new URL(str('redirect_uri'));
    } catch {
      return fail(10003, 'redirect_uri invalid');
    }
    if (back.protocol !== 'http:' && back.protocol !== 'https:') return fail(10003, 'redirect_uri invalid');
    if (openid === '') return fail(10009, 'no WeChat user (sim_openid missing)');
    back.searchParams.set('code', issueCode(openid));
    back.searchParams.set('state', str('state'));
    return { location: back.toString() };
  }

  app.get('/connect/oauth2/authorize', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const answer = redirectFor(q, typeof q.sim_openid === 'string' ? q.sim_openid : '');
    if ('location' in answer) return reply.code(302).header('location', answer.location).send();
    return reply.code(400).send(answer);
  });

  function authorize(authorizeUrl: string, openid: string): string {
    const answer = redirectFor(Object.fromEntries(new URL(authorizeUrl).searchParams), openid);
    if (!('location' in answer)) throw new Error(`WeChat OAuth refused the authorize URL: ${answer.errcode} ${answer.errmsg}`);
    return answer.location;
  }

  // WeChat answers every outcome with HTTP 200; only the body tells them apart.
  app.get('/sns/oauth2/access_token', async (req) => {
    const q = req.query as Record<string, unknown>;
    const str = (k: string) => (typeof q[k] === 'string' ? (q[k] as string) : '');
    if (str('appid') === '') return fail(41002, 'appid missing');
    if (str('appid') !== appId) return fail(40013, 'invalid appid');
    if (str('secret') === '') return fail(41004, 'appsecret missing');
    if (str('secret') !== appSecret) return fail(40125, 'invalid appsecret');
    if (str('grant_type') !== 'authorization_code') return fail(40002, 'invalid grant_type');
    const code = str('code');
    if (code === '') return fail(41008, 'missing code');
    const entry = codes.get(code);
    if (!entry) return fail(40029, 'invalid code');
    if (entry.used) return fail(40163, 'code been used');
    if (now() > entry.expiresAt) return fail(42003, 'code expired');
    entry.used = true;
    return {
      access_token: randomBytes(24).toString('base64url'),
      expires_in: 7200,
      refresh_token: randomBytes(24).toString('base64url'),
      openid: entry.openid,
      scope: 'snsapi_base',
    };
  });

  app.post('/__sim/oauth/codes', async (req, reply) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (typeof b.openid !== 'string' || b.openid === '') return reply.code(400).send({ error: 'openid is required' });
    return { code: issueCode(b.openid) };
  });

  function reset(): void {
    codes.clear();
    server.received.length = 0;
    server.setFault(null);
  }

  const url = await server.listen(opts.port ?? 0);
  return { url, server, appId, appSecret, close: () => server.close(), issueCode, authorize, reset };
}
