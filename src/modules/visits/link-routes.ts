import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { AppError } from '../../errors.js';
import { LINK_CODE_LENGTH } from './passes.js';
import type { Visits } from './service.js';

const CODE_PATTERN = `^[0-9A-Za-z]{${LINK_CODE_LENGTH}}$`;
const CODE_RE = new RegExp(CODE_PATTERN);
const Code = Type.String({ pattern: CODE_PATTERN, description: 'the pass’s short code, as the sign-in SMS carries it' });

const LinkedPass = Type.Object({
  id: Type.Integer({ description: 'application id' }),
  name: Type.String({ description: 'the person this pass admits' }),
  interviewee: Type.String(),
  start_time: Type.Integer(),
  end_time: Type.Integer({ description: 'the pass admits until then' }),
  signin_time: Type.Union([Type.Integer(), Type.Null()]),
  qrcode_img_url: Type.String({ description: 'absolute URL of the QR picture (PNG)' }),
});

/** What a browser shows for a code that opens nothing: plain text of a page, no script, no stack. */
const PAGES = {
  unknown: { status: 404, title: '链接无效', text: '没有找到这个通行码链接。请核对短信中的链接是否完整，或联系被访人。' },
  gone: { status: 410, title: '通行码已失效', text: '本次来访已签退或已结束，这个通行码不再能通行。如需再次来访，请联系被访人重新预约。' },
} as const;

function page(reply: FastifyReply, which: keyof typeof PAGES) {
  const p = PAGES[which];
  const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${p.title}</title></head><body><h1>${p.title}</h1><p>${p.text}</p></body></html>`;
  return reply.code(p.status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
}

/**
 * The pass behind an SMS link, without a session (an SMS link opens in the phone's own browser,
 * where WeChat OAuth cannot complete): `/p/{code}` (the link's fixed text in the SMS template)
 * redirects to the H5 pass page, which reads the pass by the same code. The code opens that one
 * pass and nothing else.
 */
export function passLinkRoutes(app: FastifyInstance, deps: { visits: Visits }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/p/:code',
    {
      schema: {
        // A link for browsers (a redirect or a small HTML page), not part of the JSON API: kept out of the OpenAPI.
        hide: true,
        tags: ['front desk'],
        summary: 'The SMS pass link: 302 to the H5 pass page; an unknown code 404, a pass no longer valid 410 (a page in Chinese)',
        params: Type.Object({ code: Type.String({ maxLength: 64 }) }),
      },
    },
    async (req, reply) => {
      const { code } = req.params;
      const found = CODE_RE.test(code) ? await deps.visits.passByLink(code) : null;
      if (found === null) return page(reply, 'unknown');
      if (found === 'gone') return page(reply, 'gone');
      // The code travels in the fragment: never sent on to a server, never in a Referer.
      return reply.code(302).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').redirect(`/h5/#/pass?k=${code}`, 302);
    },
  );

  r.get(
    '/v1/visit/pass/:code',
    {
      schema: {
        tags: ['front desk'],
        summary: 'The pass a short code opens (the H5 pass page from an SMS link), without a session; 404 unknown, 403 PASS_EXPIRED no longer valid',
        params: Type.Object({ code: Code }),
        response: { 200: Envelope(LinkedPass), ...errorResponses(400, 403, 404) },
      },
    },
    async (req, reply) => {
      const found = await deps.visits.passByLink(req.params.code);
      if (found === null) throw new AppError('NOT_FOUND', '没有找到这个通行码，请核对短信中的链接');
      if (found === 'gone') throw new AppError('PASS_EXPIRED', '通行码已失效：本次来访已签退或已结束');
      reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
      return ok(found);
    },
  );
}
