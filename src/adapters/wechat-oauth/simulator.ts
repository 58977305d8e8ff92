import { randomBytes } from 'node:crypto';
import { createSimServer, type SimServer } from '../simulator.js';

/**
 * WeChat web OAuth's `sns/oauth2/access_token` over HTTP (api-contract.md §8), with WeChat's
 * errcodes: 40013 bad appid, 40125 bad secret, 40002 bad grant_type, 41008 missing code,
 * 40029 unknown code, 40163 code already used, 42003 code expired. Codes come from
 * `issueCode(openid)` or `POST /__sim/oauth/codes {"openid"}` → `{"code"}` (standing in for the
 * user's trip through open.weixin.qq.com/connect/oauth2/authorize); each works once and
 * expires after 5 minutes, as WeChat's do.
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
  return { url, server, appId, appSecret, close: () => server.close(), issueCode, reset };
}
