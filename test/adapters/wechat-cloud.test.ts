import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createWechatCloudClient } from '../../src/adapters/wechat-cloud/client.js';
import { startWechatCloudSimulator, type WechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { captureLogger, failure } from '../helpers/upstream.js';

let sim: WechatCloudSimulator;
const log = captureLogger();
const client = () => createWechatCloudClient({ baseUrl: sim.url, timeoutMs: 2000, logger: log.logger });

beforeAll(async () => {
  sim = await startWechatCloudSimulator();
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.reset();
  log.lines.length = 0;
});

describe('bindings', () => {
  it('answers null for an openid that is not bound', async () => {
    expect(await client().getBinding('o-nobody')).toBeNull();
    expect(sim.server.received[0]).toMatchObject({ method: 'GET', path: '/v2/wechat/binding', query: { weixinUserId: 'o-nobody' } });
  });

  it('binds with a form-encoded body and returns the binding with nick and avatar', async () => {
    const b = await client().bind('o-alice', '13800138000');
    expect(b).toEqual({
      weixinUserId: 'o-alice',
      phone: '13800138000',
      nick: expect.stringMatching(/^微信用户-[0-9a-f]{4}$/),
      avatar: `${sim.url}/avatar/o-alice.png`,
    });
    const post = sim.server.received.find((r) => r.method === 'POST');
    expect(String(post?.headers['content-type'])).toMatch(/^application\/x-www-form-urlencoded/);
    expect(post?.body).toEqual({ weixinUserId: 'o-alice', phone: '13800138000' });
    expect(await client().getBinding('o-alice')).toEqual(b);
    // The nickname is stable per openid.
    expect((await client().bind('o-alice', '13800138000')).nick).toBe(b.nick);
  });

  it('binding an openid again replaces its phone', async () => {
    await client().bind('o-alice', '13800138000');
    await client().bind('o-alice', '13900139000');
    expect(sim.bindings()).toEqual([expect.objectContaining({ weixinUserId: 'o-alice', phone: '13900139000' })]);
    expect((await client().getBinding('o-alice'))?.phone).toBe('13900139000');
  });

  it('reads the binding back when the bind answer carries no data', async () => {
    sim.bind('o-alice', '13800138000');
    sim.server.setFault({ status: 200, body: '{"code":0,"err_msg":""}', times: 1, path: '/v2/wechat/binding' });
    expect(await client().bind('o-alice', '13800138000')).toMatchObject({ phone: '13800138000', nick: expect.stringMatching(/^微信用户-/) });
    expect(sim.server.received.map((r) => r.method)).toEqual(['POST', 'GET']);
  });

  it('fails when a bind is accepted but the binding is not visible afterwards', async () => {
    sim.server.setFault({ status: 200, body: '{"code":0,"err_msg":""}', times: 1, path: '/v2/wechat/binding' });
    const err = await failure(client().bind('o-alice', '13800138000'));
    expect(err).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false });
  });

  it('normalises the phone the service reports', async () => {
    sim.bind('o-a', '+86 138-0013-8000');
    sim.bind('o-b', '008613900139000');
    sim.bind('o-c', '8613700137000');
    expect((await client().getBinding('o-a'))?.phone).toBe('13800138000');
    expect((await client().getBinding('o-b'))?.phone).toBe('13900139000');
    expect((await client().getBinding('o-c'))?.phone).toBe('13700137000');
  });

  it('treats an unusable phone as not bound and logs a warning without the number', async () => {
    sim.bind('o-bad', '12345678901');
    expect(await client().getBinding('o-bad')).toBeNull();
    const warning = log.lines.find((l) => l.includes('unusable phone'));
    expect(warning).toBeDefined();
    expect(log.lines.join('')).not.toContain('12345678901');
  });

  it.each([
    ['data absent', '{"code":0,"err_msg":""}'],
    ['data null', '{"code":0,"err_msg":"","data":null}'],
    ['data empty', '{"code":0,"err_msg":"","data":{}}'],
    ['data empty string', '{"code":0,"err_msg":"","data":""}'],
    ['data without phone', '{"code":0,"err_msg":"","data":{"weixinUserId":"o-x","nick":"n"}}'],
    ['data with empty phone', '{"code":0,"err_msg":"","data":{"weixinUserId":"o-x","phone":""}}'],
    ['code 404', '{"code":404,"err_msg":"not found"}'],
  ])('reads "%s" as not bound', async (_name, body) => {
    sim.server.setFault({ status: 200, body, times: 1 });
    expect(await client().getBinding('o-x')).toBeNull();
  });

  it('accepts a numeric phone and a string code', async () => {
    sim.server.setFault({ status: 200, body: '{"code":"0","data":{"weixinUserId":"o-x","phone":13800138000}}', times: 1 });
    expect(await client().getBinding('o-x')).toEqual({ weixinUserId: 'o-x', phone: '13800138000', nick: '', avatar: '' });
  });

  it('unbinds (also what is not bound), encoding the openid in the path', async () => {
    const id = 'o/with space?&';
    await client().bind(id, '13800138000');
    await client().unbind(id);
    expect(sim.bindings()).toEqual([]);
    await client().unbind(id);
    const del = sim.server.received.filter((r) => r.method === 'DELETE');
    expect(del).toHaveLength(2);
    expect(del[0]?.path).toBe(`/v2/wechat/binding/${encodeURIComponent(id)}`);
  });

  it('the simulator refuses a JSON bind, as the real service does', async () => {
    const res = await fetch(`${sim.url}/v2/wechat/binding`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ weixinUserId: 'o', phone: '13800138000' }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { code: number }).code).not.toBe(0);
    expect(sim.bindings()).toEqual([]);
  });

  it('serves the avatar as a PNG and lists bindings over HTTP', async () => {
    const b = await client().bind('o-alice', '13800138000');
    const img = await fetch(b.avatar);
    expect(img.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await img.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    const list = (await (await fetch(`${sim.url}/__sim/wechat/bindings`)).json()) as unknown[];
    expect(list).toEqual([b]);
  });
});

describe('messages', () => {
  const message = {
    phone: '13800138000',
    tplMessageId: 'TPL-1',
    url: 'https://h5.example.com/records',
    data: { first: '您有一条新的来访申请', keyword1: '王五', keyword2: '李四' },
  };

  it('sends with data as a JSON string and the simulator records it parsed', async () => {
    sim.bind('o-alice', '13800138000');
    expect(await client().sendMessage(message)).toBe('sent');
    const post = sim.server.received.find((r) => r.path === '/v2/message');
    expect(String(post?.headers['content-type'])).toMatch(/^application\/json/);
    const body = post?.body as Record<string, unknown>;
    expect(typeof body.data).toBe('string');
    expect(JSON.parse(body.data as string)).toEqual(message.data);
    expect(sim.messages()).toEqual([
      expect.objectContaining({ phone: '13800138000', tplMessageId: 'TPL-1', url: message.url, data: message.data, weixinUserIds: ['o-alice'] }),
    ]);
    const listed = (await (await fetch(`${sim.url}/__sim/wechat/messages`)).json()) as unknown[];
    expect(listed).toHaveLength(1);
  });

  it('records what WeChat would not show: first, remark and a keyword line over 20 characters', async () => {
    sim.bind('o-alice', '13800138000');
    const data = {
      first: '您有一条新的来访申请',
      keyword1: '王'.repeat(20),
      // A run of ASCII letters and digits counts as one character: 2026-12-05 14:00 is 9.
      keyword2: '2026-12-05 14:00至2026-12-06 10:00',
      keyword3: '王'.repeat(21),
      remark: '请及时授权',
    };
    await client().sendMessage({ ...message, data });
    expect(sim.messages()[0]!.hidden).toEqual(['first', 'keyword3', 'remark']);
    await client().sendMessage({ ...message, data: { keyword1: '王五', remark: '' } });
    expect(sim.messages()[1]!.hidden).toEqual([]);
  });

  it("answers 'not_bound' for a phone without a binding", async () => {
    expect(await client().sendMessage(message)).toBe('not_bound');
    expect(sim.messages()).toEqual([]);
  });

  it('the simulator refuses a non-string data', async () => {
    sim.bind('o-alice', '13800138000');
    const res = await fetch(`${sim.url}/v2/message`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...message, data: message.data }),
    });
    const body = (await res.json()) as { code: number };
    expect(body.code).not.toBe(0);
    expect(body.code).not.toBe(404);
    expect(sim.messages()).toEqual([]);
  });

  it('another code in an HTTP 200 answer is a permanent failure', async () => {
    sim.server.setFault({ status: 200, body: '{"code":500,"err_msg":"template not found"}', times: 1 });
    const err = await failure(client().sendMessage(message));
    expect(err).toMatchObject({ code: 'UPSTREAM_FAILED', transient: false, providerCode: '500', system: 'wechat-cloud' });
  });
});

describe('failures', () => {
  const calls = {
    getBinding: () => client().getBinding('o-x'),
    bind: () => client().bind('o-x', '13800138000'),
    unbind: () => client().unbind('o-x'),
    sendMessage: () => client().sendMessage({ phone: '13800138000', tplMessageId: 't', url: '', data: {} }),
  };

  it.each(Object.keys(calls))('%s: HTTP 4xx is permanent, 500 transient, 502–504 unavailable', async (name) => {
    const call = calls[name as keyof typeof calls];
    for (const [status, code, transient] of [
      [400, 'UPSTREAM_FAILED', false],
      [404, 'UPSTREAM_FAILED', false],
      [500, 'UPSTREAM_FAILED', true],
      [502, 'UPSTREAM_UNAVAILABLE', true],
      [503, 'UPSTREAM_UNAVAILABLE', true],
      [504, 'UPSTREAM_UNAVAILABLE', true],
    ] as const) {
      sim.server.setFault({ status, times: 1 });
      expect(await failure(call()), `HTTP ${status}`).toMatchObject({ code, transient });
    }
  });

  it('no answer in time is transient', async () => {
    sim.server.setFault({ delayMs: 400, times: 1 });
    const quick = createWechatCloudClient({ baseUrl: sim.url, timeoutMs: 100, logger: log.logger });
    expect(await failure(quick.getBinding('o-x'))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', transient: true });
  });

  it('a dropped connection is transient', async () => {
    sim.server.setFault({ status: 0, times: 1 });
    expect(await failure(calls.sendMessage())).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', transient: true });
  });

  it('a refused connection is transient', async () => {
    const gone = await startWechatCloudSimulator();
    const url = gone.url;
    await gone.close();
    const c = createWechatCloudClient({ baseUrl: url, timeoutMs: 1000, logger: log.logger });
    expect(await failure(c.getBinding('o-x'))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', transient: true });
  });

  it('a non-JSON answer is UPSTREAM_FAILED, transient (a maintenance page is no verdict on a message)', async () => {
    sim.server.setFault({ status: 200, body: '<html>maintenance</html>', contentType: 'text/html', times: 1 });
    expect(await failure(calls.getBinding())).toMatchObject({ code: 'UPSTREAM_FAILED', transient: true });
    sim.server.setFault({ status: 200, body: '[1,2]', times: 1 });
    expect(await failure(calls.getBinding())).toMatchObject({ code: 'UPSTREAM_FAILED', transient: true });
  });
});
