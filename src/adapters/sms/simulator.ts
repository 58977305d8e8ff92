import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createSimServer, type SimServer } from '../simulator.js';
import { SMS_VARIABLE_MAX } from './port.js';

/**
 * Aliyun SMS `SendSms` (2017-05-25) over HTTP, as the official SDK speaks it: RPC style,
 * `POST /?PhoneNumbers=…&SignName=…&TemplateCode=…&TemplateParam=…&OutId=…` (form fields in
 * the body are read too), headers `x-acs-action: SendSms`, `x-acs-version: 2017-05-25`,
 * `x-acs-date`, `x-acs-signature-nonce`, `x-acs-content-sha256` and an ACS3-HMAC-SHA256
 * `Authorization`, which is verified by recomputing the V3 canonical request. Protocol errors
 * answer HTTP 4xx `{"Code","Message","RequestId","HostId","Recommend"}`; business refusals
 * answer HTTP 200 with `Code` ≠ "OK", as Aliyun does — including its per-number flow control,
 * a variable over 35 characters (`isv.PARAM_LENGTH_LIMIT`) and a link in a variable
 * (`isv.PARAM_NOT_SUPPORT_URL`).
 *
 * `QuerySendDetails` answers what was sent to one phone on one day, with each message's OutId.
 * Inspection: GET /__sim/sms/messages, GET /__sim/sms/last-code?phone=, DELETE /__sim/sms/limits,
 * DELETE /__sim/sms (reset); plus the SimServer's /__sim/requests and /__sim/faults.
 */
export interface SmsLimits {
  /** Verification-code templates, per phone and sign (Aliyun's defaults: 1 / 5 / 10). */
  perMinute: number;
  perHour: number;
  perDay: number;
  /** Other templates: per phone, sign and template within 24 hours. */
  otherPerDay: number;
}

export interface AliyunSmsSimulatorOptions {
  port?: number;
  accessKeyId?: string;
  accessKeySecret?: string;
  /**
   * TemplateCodes of verification-code templates (the strict limits). Without a list, a template
   * sent with exactly one parameter, `code`, counts as one.
   */
  verificationTemplates?: string[];
  /** null = no flow control at all. */
  limits?: Partial<SmsLimits> | null;
  /** When given, other sign names / template codes are refused like an unknown one on Aliyun. */
  signNames?: string[];
  templateCodes?: string[];
  /** Clock for the flow-control windows (tests); defaults to Date.now. Signature dates use the real clock. */
  now?: () => number;
}

export interface SimSms {
  phone: string;
  sign_name: string;
  template_code: string;
  params: Record<string, string>;
  out_id: string | null;
  biz_id: string;
  at: number;
}

export interface AliyunSmsSimulator {
  url: string;
  server: SimServer;
  accessKeyId: string;
  accessKeySecret: string;
  close(): Promise<void>;
  messages(): SimSms[];
  /** Forgets messages, flow-control counters, nonces (and the request log and any fault). */
  reset(): void;
  resetLimits(): void;
  /** The `code` parameter of the newest message to that phone (any accepted phone format). */
  lastCodeFor(phone: string): string | undefined;
}

export const DEFAULT_SMS_ACCESS_KEY_ID = 'demo-access-key-id';
export const DEFAULT_SMS_ACCESS_KEY_SECRET = 'demo-access-key-secret';
const DEFAULT_LIMITS: SmsLimits = { perMinute: 1, perHour: 5, perDay: 10, otherPerDay: 50 };

const ALGORITHM = 'ACS3-HMAC-SHA256';
/** Aliyun accepts x-acs-date within 15 minutes of its clock, and remembers nonces that long. */
const DATE_SKEW_MS = 15 * 60 * 1000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A variable that holds a link or a domain: Aliyun wants those fixed in the template. */
const URL_IN_VARIABLE = /https?:\/\/|www\./i;

type Refusal = { status: number; code: string; message: string };

export async function startAliyunSmsSimulator(opts: AliyunSmsSimulatorOptions = {}): Promise<AliyunSmsSimulator> {
  const accessKeyId = opts.accessKeyId ?? DEFAULT_SMS_ACCESS_KEY_ID;
  const accessKeySecret = opts.accessKeySecret ?? DEFAULT_SMS_ACCESS_KEY_SECRET;
  const limits = opts.limits === null ? null : { ...DEFAULT_LIMITS, ...opts.limits };
  const now = opts.now ?? Date.now;
  const server = createSimServer('sms');
  const { app } = server;
  const sent: SimSms[] = [];
  const history = new Map<string, number[]>(); // flow-control key → send times
  const nonces = new Map<string, number>(); // nonce → when first seen (real clock)
  const rawBodies = new WeakMap<FastifyRequest, Buffer>();
  let seq = 0;

  const answer = (reply: FastifyReply, status: number, body: Record<string, unknown>) =>
    reply
      .code(status)
      .header('content-type', 'application/json;charset=utf-8')
      .send({ RequestId: randomUUID().toUpperCase(), ...body });
  const refuse = (reply: FastifyReply, req: FastifyRequest, r: Refusal) =>
    answer(reply, r.status, { Code: r.code, Message: r.message, HostId: req.headers.host ?? '', Recommend: `https://api.aliyun.com/troubleshoot?q=${r.code}` });

  app.route({
    method: ['GET', 'POST'],
    url: '/',
    // The signature covers the exact body bytes (x-acs-content-sha256): keep them before parsing.
    preParsing: async (req, _reply, payload) => {
      const chunks: Buffer[] = [];
      for await (const c of payload) chunks.push(Buffer.from(c as Buffer));
      const raw = Buffer.concat(chunks);
      rawBodies.set(req, raw);
      return Readable.from([raw], { objectMode: false });
    },
    handler: async (req, reply) => {
      const raw = rawBodies.get(req) ?? Buffer.alloc(0);
      const q = req.url.indexOf('?');
      const rawPath = q === -1 ? req.url : req.url.slice(0, q);
      const query = [...new URLSearchParams(q === -1 ? '' : req.url.slice(q + 1))];

      const action = req.headers['x-acs-action'];
      if (action !== 'SendSms' && action !== 'QuerySendDetails')
        return refuse(reply, req, { status: 404, code: 'InvalidAction.NotFound', message: `Specified api is not found, please check your url and method.` });
      if (req.headers['x-acs-version'] !== '2017-05-25')
        return refuse(reply, req, { status: 400, code: 'InvalidVersion', message: 'Specified parameter Version is not valid.' });
      const authFailure = verifySignature(req, rawPath, query, raw);
      if (authFailure) return refuse(reply, req, authFailure);

      // Parameters come in the query (how the SDK sends them) or as form fields in the body.
      const params = new Map(query);
      if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) params.set(k, v);
      }
      const required = action === 'SendSms' ? ['PhoneNumbers', 'SignName', 'TemplateCode'] : ['PhoneNumber', 'SendDate', 'PageSize', 'CurrentPage'];
      for (const name of required) {
        if (!params.get(name)) return refuse(reply, req, { status: 400, code: `Missing${name}`, message: `${name} is mandatory for this action.` });
      }
      const outcome = action === 'SendSms' ? accept(params) : sendDetails(params);
      return answer(reply, 200, outcome);
    },
  });

  /** The ACS3-HMAC-SHA256 check, per Aliyun's "request syntax and signature method V3". */
  function verifySignature(req: FastifyRequest, rawPath: string, query: [string, string][], body: Buffer): Refusal | null {
    const h = req.headers;
    const auth = typeof h.authorization === 'string' ? h.authorization : '';
    const m = /^(\S+) Credential=([^,]*),SignedHeaders=([^,]*),Signature=([0-9a-fA-F]*)$/.exec(auth);
    if (!m) return { status: 400, code: 'IncompleteSignature', message: 'The request signature does not conform to Aliyun standards.' };
    const [, algorithm, credential, signedList, signature] = m as unknown as [string, string, string, string, string];
    if (algorithm !== ALGORITHM) return { status: 400, code: 'InvalidSignatureMethod', message: `Specified signature method ${algorithm} is not supported.` };
    if (credential !== accessKeyId) return { status: 404, code: 'InvalidAccessKeyId.NotFound', message: 'Specified access key is not found.' };

    const date = typeof h['x-acs-date'] === 'string' ? h['x-acs-date'] : '';
    const at = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(date) ? Date.parse(date) : NaN;
    if (Number.isNaN(at)) return { status: 400, code: 'InvalidTimeStamp.Format', message: 'Specified time stamp or date value is not well formatted.' };
    if (Math.abs(Date.now() - at) > DATE_SKEW_MS)
      return { status: 400, code: 'InvalidTimeStamp.Expired', message: `Specified time stamp or date value is expired.` };
    const nonce = typeof h['x-acs-signature-nonce'] === 'string' ? h['x-acs-signature-nonce'] : '';
    if (nonce === '') return { status: 400, code: 'MissingSignatureNonce', message: 'SignatureNonce is mandatory for this action.' };

    const payloadHash = sha256(body);
    if (h['x-acs-content-sha256'] !== payloadHash)
      return { status: 400, code: 'SignatureDoesNotMatch', message: 'x-acs-content-sha256 does not match the request body.' };

    // Every x-acs-* header present, host and content-type must be signed, so none can be altered.
    const signed = signedList.split(';');
    const mustSign = Object.keys(h).filter((k) => k.startsWith('x-acs-') || k === 'host' || k === 'content-type');
    const unsigned = mustSign.filter((k) => !signed.includes(k));
    if (unsigned.length > 0) return { status: 400, code: 'IncompleteSignature', message: `Headers ${unsigned.join(', ')} must be signed.` };
    const sorted = [...signed].sort();
    if (sorted.join(';') !== signedList) return { status: 400, code: 'IncompleteSignature', message: 'SignedHeaders must be lower case and sorted.' };

    const canonicalQuery = query
      .map(([k, v]) => [percentEncode(k), percentEncode(v)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const canonicalHeaders = sorted.map((k) => `${k}:${headerValue(h[k])}\n`).join('');
    const canonicalRequest = [req.method, rawPath || '/', canonicalQuery, canonicalHeaders, signedList, payloadHash].join('\n');
    const stringToSign = `${ALGORITHM}\n${sha256(Buffer.from(canonicalRequest, 'utf8'))}`;
    const expected = createHmac('sha256', accessKeySecret).update(stringToSign).digest();
    const given = Buffer.from(signature, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return {
        status: 400,
        code: 'SignatureDoesNotMatch',
        message: `Specified signature does not match our calculation. server string to sign is:${stringToSign}`,
      };
    }

    // Only a genuine request spends its nonce (a forged one must not block the real sender).
    // The map is in the order nonces were first seen: only its expired head is dropped (walking
    // all of it on every request would make each SMS cost O(SMS in the last 15 minutes)).
    const nowMs = Date.now();
    for (const [n, seen] of nonces) {
      if (nowMs - seen <= DATE_SKEW_MS) break;
      nonces.delete(n);
    }
    if (nonces.has(nonce)) return { status: 400, code: 'SignatureNonceUsed', message: 'Specified signature nonce was used already.' };
    nonces.set(nonce, Date.now());
    return null;
  }

  /** Business rules after authentication: answers with HTTP 200 either way, as Aliyun does. */
  function accept(params: Map<string, string>): Record<string, unknown> {
    const sign = params.get('SignName') ?? '';
    const template = params.get('TemplateCode') ?? '';
    const phones = (params.get('PhoneNumbers') ?? '').split(',').map((p) => normalizePhone(p));
    if (phones.some((p) => p === null)) return { Code: 'isv.MOBILE_NUMBER_ILLEGAL', Message: `${params.get('PhoneNumbers')}invalid` };
    if (opts.signNames && !opts.signNames.includes(sign)) return { Code: 'isv.SMS_SIGNATURE_ILLEGAL', Message: '该账号下找不到对应签名' };
    if (opts.templateCodes && !opts.templateCodes.includes(template)) return { Code: 'isv.SMS_TEMPLATE_ILLEGAL', Message: '该账号下找不到对应模板' };

    let templateParams: Record<string, string> = {};
    const rawParam = params.get('TemplateParam');
    if (rawParam !== undefined && rawParam !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(rawParam);
      } catch {
        parsed = undefined;
      }
      // Aliyun takes a JSON object of string values only.
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
        return { Code: 'isv.INVALID_JSON_PARAM', Message: 'JSON参数不合法，只接受字符串值' };
      }
      templateParams = parsed as Record<string, string>;
    }
    // Aliyun's rules for template variables: a link is fixed text of the approved template (a
    // short code may be a variable), and no variable is longer than 35 characters.
    const values = Object.values(templateParams);
    if (values.some((v) => URL_IN_VARIABLE.test(v))) return { Code: 'isv.PARAM_NOT_SUPPORT_URL', Message: '不支持URL' };
    if (values.some((v) => v.length > SMS_VARIABLE_MAX)) return { Code: 'isv.PARAM_LENGTH_LIMIT', Message: '参数超出长度限制' };

    const t = now();
    const verification = opts.verificationTemplates ? opts.verificationTemplates.includes(template) : Object.keys(templateParams).join() === 'code';
    const keys = (phones as string[]).map((p) => (verification ? `v|${sign}|${p}` : `n|${sign}|${template}|${p}`));
    if (limits) {
      for (const key of keys) {
        const times = (history.get(key) ?? []).filter((x) => t - x < DAY);
        history.set(key, times);
        const tripped = overLimit(
          limits,
          verification,
          times.map((x) => t - x),
        );
        if (tripped) return { Code: 'isv.BUSINESS_LIMIT_CONTROL', Message: tripped };
      }
    }

    seq += 1;
    const bizId = `${String(t).slice(-9)}${String(seq).padStart(9, '0')}^0`;
    for (const [i, phone] of (phones as string[]).entries()) {
      const key = keys[i] as string;
      const times = history.get(key);
      if (times) times.push(t);
      else history.set(key, [t]);
      sent.push({ phone, sign_name: sign, template_code: template, params: templateParams, out_id: params.get('OutId') ?? null, biz_id: bizId, at: t });
    }
    return { Code: 'OK', Message: 'OK', BizId: bizId };
  }

  /**
   * QuerySendDetails: what was sent to one phone on one day (China time), newest first, paged
   * (PageSize 1–50), each with the OutId it was sent with. Delivery is immediate here: every
   * message reports SendStatus 3 (delivered).
   */
  function sendDetails(params: Map<string, string>): Record<string, unknown> {
    const phone = normalizePhone(params.get('PhoneNumber') ?? '');
    if (!phone) return { Code: 'isv.MOBILE_NUMBER_ILLEGAL', Message: `${params.get('PhoneNumber')}invalid` };
    const day = params.get('SendDate') ?? '';
    const size = Number(params.get('PageSize'));
    const page = Number(params.get('CurrentPage'));
    if (!/^\d{8}$/.test(day)) return { Code: 'isv.INVALID_PARAMETERS', Message: 'SendDate格式错误，应为yyyyMMdd' };
    if (!(Number.isInteger(size) && size >= 1 && size <= 50) || !(Number.isInteger(page) && page >= 1)) {
      return { Code: 'isv.INVALID_PARAMETERS', Message: 'PageSize取值1-50，CurrentPage从1开始' };
    }
    const found = sent.filter((m) => m.phone === phone && chinaDay(m.at) === day).reverse();
    const rows = found.slice((page - 1) * size, page * size).map((m) => ({
      PhoneNum: m.phone,
      SendStatus: 3,
      ErrCode: 'DELIVERED',
      TemplateCode: m.template_code,
      Content: JSON.stringify(m.params),
      SendDate: chinaTime(m.at),
      ReceiveDate: chinaTime(m.at),
      OutId: m.out_id ?? '',
    }));
    return { Code: 'OK', Message: 'OK', TotalCount: String(found.length), SmsSendDetailDTOs: { SmsSendDetailDTO: rows } };
  }

  function lastCodeFor(phone: string): string | undefined {
    const p = normalizePhone(phone) ?? phone;
    for (let i = sent.length - 1; i >= 0; i -= 1) {
      const s = sent[i];
      if (s && s.phone === p && typeof s.params.code === 'string') return s.params.code;
    }
    return undefined;
  }

  function reset(): void {
    sent.length = 0;
    history.clear();
    nonces.clear();
    server.received.length = 0;
    server.setFault(null);
  }

  app.get('/__sim/sms/messages', async () => sent);
  app.get('/__sim/sms/last-code', async (req, reply) => {
    const code = lastCodeFor(String((req.query as Record<string, unknown>).phone ?? ''));
    return code === undefined ? reply.code(404).send({ error: 'no code sent to that phone' }) : { code };
  });
  app.delete('/__sim/sms/limits', async () => {
    history.clear();
    return {};
  });
  app.delete('/__sim/sms', async () => {
    reset();
    return {};
  });

  const url = await server.listen(opts.port ?? 0);
  return {
    url,
    server,
    accessKeyId,
    accessKeySecret,
    close: () => server.close(),
    messages: () => [...sent],
    reset,
    resetLimits: () => history.clear(),
    lastCodeFor,
  };
}

/** Aliyun's wording for the window that tripped (the client reads minute/hour/day from it). */
function overLimit(limits: SmsLimits, verification: boolean, ages: number[]): string | null {
  const within = (ms: number) => ages.filter((a) => a < ms).length;
  if (!verification) return ages.length >= limits.otherPerDay ? `触发天级流控Permits:${limits.otherPerDay}` : null;
  if (within(MINUTE) >= limits.perMinute) return `触发分钟级流控Permits:${limits.perMinute}`;
  if (within(HOUR) >= limits.perHour) return `触发小时级流控Permits:${limits.perHour}`;
  if (ages.length >= limits.perDay) return `触发天级流控Permits:${limits.perDay}`;
  return null;
}

/** `yyyyMMdd` of a time in China (UTC+8 all year). */
function chinaDay(ms: number): string {
  return new Date(ms + 8 * HOUR).toISOString().slice(0, 10).replaceAll('-', '');
}

/** `yyyy-MM-dd HH:mm:ss` in China, as Aliyun writes its dates. */
function chinaTime(ms: number): string {
  return new Date(ms + 8 * HOUR).toISOString().slice(0, 19).replace('T', ' ');
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** RFC 3986 encoding as the V3 signature wants it: space %20, `*` %2A, `~` kept. */
function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function headerValue(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? [...v].sort().join(',') : (v ?? '')).trim();
}

/** Aliyun takes 11 digits with or without +86 / 0086 / 86. */
function normalizePhone(raw: string): string | null {
  const p = raw.trim().replace(/^(\+86|0086|86)(?=1\d{10}$)/, '');
  return /^1[3-9]\d{9}$/.test(p) ? p : null;
}
