import { AppError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { httpCall, parseJson, statusError, type HttpObserver } from '../http.js';
import type { WechatOAuthPort } from './port.js';

export interface WechatOAuthClientOptions {
  /** `https://api.weixin.qq.com` or a simulator. */
  apiUrl: string;
  appId: string;
  appSecret: string;
  timeoutMs: number;
  logger: Logger;
  /** Told of every call (metrics). */
  observer?: HttpObserver;
}

const SYSTEM = 'wechat-oauth';
/** What the user is told when WeChat refuses their code: they go through OAuth again. */
const CODE_REFUSED = '微信登录凭证无效或已过期，请重新登录';

/** The user's code is bad, used, expired or missing: they must go through OAuth again (401). */
const CODE_ERRORS = new Set([
  40029, // invalid code
  40163, // code been used
  41008, // missing code
  42003, // code expired
]);

/** Our configuration is wrong (app id / secret / server IP whitelist): no user can fix it, retrying will not help. */
const CONFIG_ERRORS = new Set([
  40001, // invalid credential: the AppSecret is wrong
  40002, // invalid grant_type
  40013, // invalid appid
  40125, // invalid appsecret
  40164, // calling IP not in the whitelist
  41002, // missing appid
  41004, // missing secret
  48001, // api unauthorized (the account lacks web OAuth)
  50001, // user/app not authorized for this api
]);

/** WeChat's own trouble: trying again later may work. */
const BUSY_ERRORS = new Set([-1, 45009, 45011]);

/**
 * WeChat web OAuth (snsapi_base) code → openid exchange. WeChat answers HTTP 200 with either
 * the token or `{errcode, errmsg}`; the errcode decides whose fault it is. The query carries
 * the app secret and the user's code, so neither the URL's query nor the code ever reaches a
 * log line or an error detail (httpCall redacts the query in its own errors).
 */
export function createWechatOAuthClient(opts: WechatOAuthClientOptions): WechatOAuthPort {
  const endpoint = `${opts.apiUrl.replace(/\/+$/, '')}/sns/oauth2/access_token`;
  const what = 'GET /sns/oauth2/access_token';
  const log = opts.logger;

  return {
    async exchangeCode(code: string) {
      if (code.trim() === '') throw new AppError('UNAUTHENTICATED', CODE_REFUSED, { detail: 'empty OAuth code' });
      const query = new URLSearchParams({ appid: opts.appId, secret: opts.appSecret, code, grant_type: 'authorization_code' });
      const res = await httpCall(SYSTEM, `${endpoint}?${query.toString()}`, {
        timeoutMs: opts.timeoutMs,
        headers: { accept: 'application/json' },
        observer: opts.observer,
      });
      if (res.status !== 200) throw statusError(SYSTEM, res.status, what);
      const json = parseJson(SYSTEM, res.text, what);
      if (json === null || typeof json !== 'object') throw new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `${what}: answer is not an object`);
      const body = json as Record<string, unknown>;

      const errcode = typeof body.errcode === 'number' ? body.errcode : typeof body.errcode === 'string' ? Number(body.errcode) : 0;
      if (errcode !== 0 && !Number.isNaN(errcode)) {
        // errmsg is WeChat's text ("invalid code, rid: …"); it never echoes the secret or the code.
        const errmsg = typeof body.errmsg === 'string' ? body.errmsg.slice(0, 200) : '';
        const detail = `${what}: errcode ${errcode} ${errmsg}`;
        if (CODE_ERRORS.has(errcode)) {
          log.info({ system: SYSTEM, errcode }, 'WeChat refused the OAuth code');
          throw new AppError('UNAUTHENTICATED', CODE_REFUSED, { detail });
        }
        if (BUSY_ERRORS.has(errcode)) {
          log.warn({ system: SYSTEM, errcode, errmsg }, 'WeChat OAuth is busy');
          throw new UpstreamError(SYSTEM, errcode === -1 ? 'UPSTREAM_UNAVAILABLE' : 'RATE_LIMITED', detail, { transient: true, providerCode: String(errcode) });
        }
        // CONFIG_ERRORS and anything we do not know: our side or WeChat's, not the user's; a 502
        // with the errcode in the logs is more useful than sending the user round the OAuth loop.
        log.error({ system: SYSTEM, errcode, errmsg, known: CONFIG_ERRORS.has(errcode) }, 'WeChat OAuth rejected the app credentials or the request');
        throw new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', detail, { transient: false, providerCode: String(errcode) });
      }

      const openid = body.openid;
      if (typeof openid !== 'string' || openid === '') throw new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `${what}: answer without openid`);
      return { openid };
    },
  };
}
