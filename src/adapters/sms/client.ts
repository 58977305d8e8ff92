import Dysmsapi, { QuerySendDetailsRequest, SendSmsRequest } from '@alicloud/dysmsapi20170525';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import { UpstreamError } from '../../errors.js';
import { maskPhone, type Logger } from '../../log.js';
import type { SmsPort, SmsSendInput } from './port.js';

export interface AliyunSmsClientOptions {
  /** A URL: `https://dysmsapi.aliyuncs.com`, or `http://127.0.0.1:PORT` for the simulator. Its scheme is the protocol. */
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  signName: string;
  /** Applied to connecting and, separately, to waiting for the answer (the SDK has no overall deadline). */
  timeoutMs: number;
  logger: Logger;
}

const SYSTEM = 'sms';

/** Aliyun's per-number / per-account flow control: the same message may go through later. */
const RATE_LIMIT_CODES = new Set(['isv.BUSINESS_LIMIT_CONTROL', 'isv.DAY_LIMIT_CONTROL']);

/** Node socket errors that mean "no answer": the request may not have reached Aliyun. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

type SmsClientClass = typeof Dysmsapi.default;
type SmsClient = InstanceType<SmsClientClass>;
/**
 * The SDK is CommonJS with `exports.default = Client`. Node's ESM loader hands us
 * module.exports (class at `.default`); loaders with __esModule interop (vitest, bundlers)
 * hand us the class itself. Accept both rather than depend on who loads this file.
 */
const SmsClientCtor: SmsClientClass = typeof Dysmsapi === 'function' ? (Dysmsapi as unknown as SmsClientClass) : Dysmsapi.default;
type RuntimeOptions = Parameters<SmsClient['sendSmsWithOptions']>[1];

/**
 * Aliyun SMS SendSms (2017-05-25) through the official SDK. The SDK (openapi-core 1.0.8) signs
 * with ACS3-HMAC-SHA256 and sends `POST /?OutId=…&PhoneNumbers=…&SignName=…&TemplateCode=…&TemplateParam=…`
 * with an empty body. A business refusal is HTTP 200 with `Code` ≠ "OK"; HTTP 4xx/5xx come
 * back as thrown ClientError / ServerError / ThrottlingError (with `statusCode` and `code`),
 * no answer as a Node socket error or httpx's RequestTimeoutError.
 */
export function createAliyunSmsClient(opts: AliyunSmsClientOptions): SmsPort {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(opts.endpoint) ? opts.endpoint : `https://${opts.endpoint}`);
  const client: SmsClient = new SmsClientCtor(
    new $OpenApiUtil.Config({
      accessKeyId: opts.accessKeyId,
      accessKeySecret: opts.accessKeySecret,
      // The SDK wants host[:port] and the scheme apart; it always posts to "/", so a path is ignored.
      endpoint: url.host,
      protocol: url.protocol.replace(/:$/, ''),
      connectTimeout: opts.timeoutMs,
      readTimeout: opts.timeoutMs,
      // No retryOptions: openapi-core 1.0.8 retries only when they are set. The notification
      // worker retries with back-off and OutId; an SDK retry on top would multiply attempts.
    }),
  );
  // A plain object is what the SDK reads (runtime.readTimeout, …); the class lives in a
  // transitive package (@darabonba/typescript) that we do not depend on directly.
  // `autoretry: false` documents intent for SDK versions that still honour it.
  const runtime = { connectTimeout: opts.timeoutMs, readTimeout: opts.timeoutMs, autoretry: false, maxAttempts: 1 } as unknown as RuntimeOptions;
  const log = opts.logger;

  return {
    async send(input: SmsSendInput) {
      const request = new SendSmsRequest({
        phoneNumbers: input.phone,
        signName: opts.signName,
        templateCode: input.templateCode,
        templateParam: JSON.stringify(input.params),
        outId: input.outId,
      });
      const ctx = { system: SYSTEM, phone: maskPhone(input.phone), templateCode: input.templateCode, outId: input.outId };
      let body: { code?: string; message?: string; bizId?: string; requestId?: string } | undefined;
      try {
        body = (await client.sendSmsWithOptions(request, runtime)).body;
      } catch (err) {
        const mapped = mapSdkError(err);
        log.warn({ ...ctx, code: mapped.code, providerCode: mapped.providerCode, transient: mapped.transient, detail: mapped.detail }, 'Aliyun SendSms failed');
        throw mapped;
      }
      const code = body?.code ?? '';
      if (code === 'OK') return { bizId: body?.bizId ?? '' };
      if (code === '') {
        // JSON without Aliyun's `Code` is not Aliyun's verdict (a proxy, another service):
        // try again later rather than drop the message.
        const odd = new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', 'SendSms: answer without a Code', { transient: true });
        log.warn({ ...ctx, code: odd.code, transient: true }, 'Aliyun SendSms answered something that is not its protocol');
        throw odd;
      }

      const message = maskPhone(body?.message ?? '');
      const detail = `SendSms refused: ${code} ${message} (RequestId ${body?.requestId ?? '?'})`;
      const refusal =
        RATE_LIMIT_CODES.has(code) || code.startsWith('Throttling')
          ? new UpstreamError(SYSTEM, 'RATE_LIMITED', detail, { transient: true, providerCode: code, retryAfter: retryAfterOf(code, message) })
          : new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', detail, { transient: false, providerCode: code || undefined });
      log.warn({ ...ctx, providerCode: code, message, transient: refusal.transient }, 'Aliyun SendSms refused the message');
      throw refusal;
    },

    wasSent: (query) => wasSent(client, runtime, query),
  };
}

/** QuerySendDetails, paged, on the China days the send may have fallen on (see SmsPort.wasSent). */
async function wasSent(
  client: SmsClient,
  runtime: RuntimeOptions,
  { phone, outId, sentAt }: { phone: string; outId: string; sentAt: number },
): Promise<boolean> {
  // The China days the send may have fallen on: the hour before `sentAt` can cross midnight.
  const days = [...new Set([chinaDay(sentAt - 3_600_000), chinaDay(sentAt)])];
  for (const sendDate of days) {
    for (let currentPage = 1; currentPage <= MAX_DETAIL_PAGES; currentPage++) {
      const request = new QuerySendDetailsRequest({ phoneNumber: phone, sendDate, pageSize: DETAIL_PAGE_SIZE, currentPage });
      let body;
      try {
        body = (await client.querySendDetailsWithOptions(request, runtime)).body;
      } catch (err) {
        throw mapSdkError(err);
      }
      if (body?.code !== 'OK') {
        throw new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `QuerySendDetails refused: ${body?.code ?? '?'} ${maskPhone(body?.message ?? '')}`, {
          transient: true,
          providerCode: body?.code,
        });
      }
      const rows = body.smsSendDetailDTOs?.smsSendDetailDTO ?? [];
      if (rows.some((r) => r.outId === outId)) return true;
      if (rows.length < DETAIL_PAGE_SIZE) break;
    }
  }
  return false;
}

/** QuerySendDetails pages: 50 a page (Aliyun's most), and no phone gets 500 messages of ours in a day (the SMS caps). */
const DETAIL_PAGE_SIZE = 50;
const MAX_DETAIL_PAGES = 10;

/** `yyyyMMdd` in China (UTC+8 all year), the day QuerySendDetails files a message under. */
function chinaDay(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10).replaceAll('-', '');
}

/**
 * Reads what the SDK threw. The raw error is deliberately not attached as `cause`: httpx
 * appends the full request URL to socket errors, and that query holds the phone number and
 * the TemplateParam (a verification code).
 */
function mapSdkError(err: unknown): UpstreamError {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; statusCode?: unknown; message?: unknown; requestId?: unknown; retryAfter?: unknown };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const code = e.code === undefined || e.code === null ? '' : String(e.code);
  const message = scrub(typeof e.message === 'string' ? e.message : String(err));

  if (typeof e.statusCode === 'number') {
    // Aliyun answered HTTP 4xx/5xx with an error document (ClientError / ServerError / ThrottlingError).
    const status = e.statusCode;
    const what = `SendSms ${name} ${code}`.trim();
    if (name === 'ThrottlingError' || code.startsWith('Throttling')) {
      const retryAfter = typeof e.retryAfter === 'number' && e.retryAfter > 0 ? Math.ceil(e.retryAfter / 1000) : undefined;
      return new UpstreamError(SYSTEM, 'RATE_LIMITED', `${what}: HTTP ${status} ${message}`, { transient: true, providerCode: code, retryAfter });
    }
    if (status >= 500) {
      // As statusError: 502–504 mean "did not answer", another 5xx "answered with an error"; both may pass later.
      const kind = status >= 502 && status <= 504 ? 'UPSTREAM_UNAVAILABLE' : 'UPSTREAM_FAILED';
      return new UpstreamError(SYSTEM, kind, `${what}: HTTP ${status} ${message}`, { transient: true, providerCode: code || undefined });
    }
    // Bad signature, unknown AccessKey, missing parameter: retrying the same request cannot help.
    return new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `${what}: HTTP ${status} ${message}`, { transient: false, providerCode: code || undefined });
  }
  if (name === 'RequestTimeoutError' || NETWORK_CODES.has(code) || /socket hang up/i.test(message)) {
    return new UpstreamError(SYSTEM, 'UPSTREAM_UNAVAILABLE', `SendSms: no answer (${code || name}: ${message})`);
  }
  if (name === 'SyntaxError') {
    // The SDK parses every answer (errors included) as JSON and loses the status when that
    // fails. A non-JSON answer is in practice a proxy's or gateway's error page (nginx's
    // 502/504), i.e. Aliyun did not answer: 503, and worth a retry.
    return new UpstreamError(SYSTEM, 'UPSTREAM_UNAVAILABLE', `SendSms: answer is not JSON (${message})`, { transient: true });
  }
  return new UpstreamError(SYSTEM, 'UPSTREAM_FAILED', `SendSms: ${name} ${code} ${message}`.replace(/\s+/g, ' '), {
    transient: false,
    providerCode: code || undefined,
  });
}

/** Drops query strings (phone, TemplateParam) from URLs the SDK put into error messages, and masks stray phone numbers. */
function scrub(text: string): string {
  return maskPhone(text.replace(/(https?:\/\/[^\s?]*)\?\S*/g, '$1?…').slice(0, 300));
}

/** Aliyun says which window tripped: 触发分钟级流控 / 触发小时级流控 / 触发天级流控; DAY_LIMIT_CONTROL is the account's daily cap. */
function retryAfterOf(code: string, message: string): number {
  if (code === 'isv.DAY_LIMIT_CONTROL' || message.includes('天级') || /day/i.test(message)) return 24 * 3600;
  if (message.includes('小时级') || /hour/i.test(message)) return 3600;
  return 60;
}
