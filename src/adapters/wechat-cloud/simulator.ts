import { createHash } from 'node:crypto';
import { createSimServer, type SimServer } from '../simulator.js';

/**
 * The WeChat interface cloud service (api-contract.md §8) over HTTP, for `npm start` in
 * simulated mode and for tests. It keeps WeChat (openid) ↔ phone bindings in memory and
 * records template messages instead of sending them, with what WeChat would not show of them
 * (`hidden`).
 *
 * Protocol: GET /v2/wechat/binding?weixinUserId=, POST /v2/wechat/binding (form-encoded
 * only), DELETE /v2/wechat/binding/{weixinUserId}, POST /v2/message (JSON, `data` a JSON
 * string), GET /avatar/{openid}.png. Inspection: GET /__sim/wechat/messages,
 * GET /__sim/wechat/bindings, DELETE /__sim/wechat (reset); plus the SimServer's
 * /__sim/requests and /__sim/faults.
 */
export interface SimWechatBinding {
  weixinUserId: string;
  phone: string;
  nick: string;
  avatar: string;
}

export interface SimWechatMessage {
  phone: string;
  tplMessageId: string;
  url: string;
  /** Parsed from the JSON string sent on the wire. */
  data: unknown;
  /** The openids the message went to. */
  weixinUserIds: string[];
  at: number;
  /**
   * What WeChat would not show of `data` (it accepts the message all the same): `first` and
   * `remark` (not shown since 2023), and any keyword line over 20 characters (cut with "…";
   * a run of ASCII letters and digits counts as one). Empty when everything shows.
   */
  hidden: string[];
}

/** WeChat shows at most this many characters of a keyword line. */
const KEYWORD_SHOWN = 20;

function notShown(data: unknown): string[] {
  if (data === null || typeof data !== 'object') return [];
  const out: string[] = [];
  for (const [key, raw] of Object.entries(data as Record<string, unknown>)) {
    // A field is a string or, as WeChat's own API has it, {"value": string}.
    const value = typeof raw === 'string' ? raw : typeof (raw as { value?: unknown } | null)?.value === 'string' ? (raw as { value: string }).value : '';
    if ((key === 'first' || key === 'remark') && value !== '') out.push(key);
    else if ((value.match(/[A-Za-z0-9]+|[\s\S]/gu)?.length ?? 0) > KEYWORD_SHOWN) out.push(key);
  }
  return out;
}

export interface WechatCloudSimulator {
  url: string;
  server: SimServer;
  close(): Promise<void>;
  messages(): SimWechatMessage[];
  bindings(): SimWechatBinding[];
  /** Seeds a binding directly (the phone is stored exactly as given, like the real service). */
  bind(weixinUserId: string, phone: string): SimWechatBinding;
  /** Forgets bindings and messages (and the request log and any fault). */
  reset(): void;
}

// A 1×1 PNG: the avatar is only ever displayed, its pixels do not matter.
const AVATAR_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mOs+M9QDwAFgwJ/lHmHBQAAAABJRU5ErkJggg==', 'base64');

const ok = (data: unknown = {}) => ({ code: 0, err_msg: '', data });
// The real service answers HTTP 200 with its own code for request errors.
const bad = (err_msg: string) => ({ code: 400, err_msg });

export async function startWechatCloudSimulator(opts: { port?: number } = {}): Promise<WechatCloudSimulator> {
  const server = createSimServer('wechat-cloud');
  const { app } = server;
  const byOpenid = new Map<string, string>(); // openid → phone as it was bound
  const sent: SimWechatMessage[] = [];
  let baseUrl = '';

  const view = (weixinUserId: string, phone: string): SimWechatBinding => {
    const tag = createHash('sha256').update(weixinUserId).digest('hex').slice(0, 4);
    return { weixinUserId, phone, nick: `微信用户-${tag}`, avatar: `${baseUrl}/avatar/${encodeURIComponent(weixinUserId)}.png` };
  };
  // Messages are addressed by phone; compare digits so "+86 138…" seeded bindings still match.
  const digits = (p: string) => p.replace(/\D/g, '').replace(/^(0086|86)(?=1\d{10}$)/, '');

  app.get('/v2/wechat/binding', async (req) => {
    const id = String((req.query as Record<string, unknown>).weixinUserId ?? '');
    if (id === '') return bad('weixinUserId 不能为空');
    const phone = byOpenid.get(id);
    return phone === undefined ? ok({}) : ok(view(id, phone));
  });

  app.post('/v2/wechat/binding', async (req) => {
    // Form fields only: a JSON body is "no parameters" to the real service.
    const type = String(req.headers['content-type'] ?? '');
    if (!type.startsWith('application/x-www-form-urlencoded')) return bad('参数 weixinUserId、phone 缺失（请使用表单提交）');
    const b = (req.body ?? {}) as Record<string, unknown>;
    const id = typeof b.weixinUserId === 'string' ? b.weixinUserId.trim() : '';
    const phone = typeof b.phone === 'string' ? b.phone.trim() : '';
    if (id === '' || phone === '') return bad('参数 weixinUserId、phone 不能为空');
    byOpenid.set(id, phone); // one phone per openid: binding again replaces it
    return ok(view(id, phone));
  });

  app.delete('/v2/wechat/binding/:weixinUserId', async (req) => {
    byOpenid.delete((req.params as { weixinUserId: string }).weixinUserId);
    return ok({});
  });

  app.post('/v2/message', async (req) => {
    const b = req.body;
    if (b === null || typeof b !== 'object') return bad('请求体必须是 JSON');
    const m = b as Record<string, unknown>;
    if (typeof m.phone !== 'string' || m.phone === '') return bad('phone 不能为空');
    if (typeof m.tplMessageId !== 'string' || m.tplMessageId === '') return bad('tplMessageId 不能为空');
    if (typeof m.data !== 'string') return bad('data 必须是 JSON 字符串');
    let data: unknown;
    try {
      data = JSON.parse(m.data);
    } catch {
      return bad('data 不是合法的 JSON');
    }
    const target = digits(m.phone);
    const ids = [...byOpenid].filter(([, p]) => digits(p) === target).map(([id]) => id);
    if (ids.length === 0) return { code: 404, err_msg: '该手机号未绑定微信' };
    sent.push({
      phone: m.phone,
      tplMessageId: m.tplMessageId,
      url: typeof m.url === 'string' ? m.url : '',
      data,
      weixinUserIds: ids,
      at: Date.now(),
      hidden: notShown(data),
    });
    return ok({});
  });

  app.get('/avatar/:file', async (req, reply) => {
    // Any openid: a WeChat avatar URL stays valid on the CDN after the binding is gone.
    if (!(req.params as { file: string }).file.endsWith('.png')) return reply.code(404).send({ code: 404, err_msg: 'not found' });
    return reply.header('content-type', 'image/png').header('cache-control', 'public, max-age=86400').send(AVATAR_PNG);
  });

  app.get('/__sim/wechat/messages', async () => sent);
  app.get('/__sim/wechat/bindings', async () => [...byOpenid].map(([id, phone]) => view(id, phone)));
  app.delete('/__sim/wechat', async () => {
    reset();
    return {};
  });

  function reset(): void {
    byOpenid.clear();
    sent.length = 0;
    server.received.length = 0;
    server.setFault(null);
  }

  baseUrl = await server.listen(opts.port ?? 0);
  return {
    url: baseUrl,
    server,
    close: () => server.close(),
    messages: () => [...sent],
    bindings: () => [...byOpenid].map(([id, phone]) => view(id, phone)),
    bind(weixinUserId, phone) {
      byOpenid.set(weixinUserId, phone);
      return view(weixinUserId, phone);
    },
    reset,
  };
}
