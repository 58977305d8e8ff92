import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import QRCode from 'qrcode';
import { Type } from 'typebox';
import { adminOf, deviceOf } from '../../http/auth.js';
import { Envelope, errorResponses, ok } from '../../http/envelope.js';
import { BearerAuth, decimalIntegers, PhoneInput } from '../../http/schemas.js';
import { AppError } from '../../errors.js';
import type { Identity } from '../identity/service.js';
import { passLinkRoutes } from './link-routes.js';
import type { Visits } from './service.js';

const DeviceAuth = [{ device: [] as string[] }];

const Pass = {
  subject_id: Type.Union([Type.Integer(), Type.Null()], { description: 'the Koala visitor subject; null until Koala has been written' }),
  name: Type.String(),
  phone: Type.String({ description: 'the 11 digits for the phone typed at the kiosk; masked (138****0001) for everyone else' }),
  qrcode: Type.String({ description: 'the QR content: {"id": <application id>, "qrcode": "<token>"}; "" for anyone but the phone typed' }),
  qrcode_img_url: Type.String({ description: 'absolute URL of the QR picture (PNG); "" for anyone but the phone typed' }),
};

const SigninAnswer = Type.Object({
  id: Type.Integer({ description: 'application id' }),
  ...Pass,
  interviewee: Type.String(),
  start_time: Type.Integer(),
  end_time: Type.Integer(),
  signin_time: Type.Integer(),
  retinues: Type.Array(Type.Object(Pass)),
});

const SignoutAnswer = Type.Object({ id: Type.Integer(), signin_time: Type.Integer(), signout_time: Type.Integer() });
const CheckAnswer = Type.Object({ id: Type.Integer({ description: 'application id' }), name: Type.String(), end_time: Type.Integer() });

/** Front desk (docs/api-contract-frontdesk.md): kiosk sign-in and check-out, turnstile, pass pictures. */
export function visitRoutes(app: FastifyInstance, deps: { visits: Visits; identity: Identity }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { visits } = deps;
  passLinkRoutes(app, { visits });

  r.post(
    '/v1/visit/signin',
    {
      config: { auth: 'device', deviceKinds: ['kiosk'] },
      schema: {
        tags: ['front desk'],
        summary: 'Kiosk sign-in by the phone of the visitor or a companion: one QR pass and one Koala visitor per person',
        security: DeviceAuth,
        body: Type.Object({ phone: PhoneInput }),
        response: { 200: Envelope(SigninAnswer), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const device = deviceOf(req);
      return ok(await visits.signin({ kind: 'device', id: String(device.id) }, req.body.phone));
    },
  );

  r.post(
    '/v1/visit/qrcode',
    {
      config: { auth: 'device' },
      schema: {
        tags: ['front desk'],
        summary: 'Turnstile: does this pass admit now? (no outside call)',
        security: DeviceAuth,
        body: Type.Object({ qrcode: Type.String({ maxLength: 1024, description: 'the scanned QR content' }) }),
        response: { 200: Envelope(CheckAnswer), ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => ok(await visits.check(req.body.qrcode)),
  );

  r.post(
    '/v1/visit/signout',
    {
      config: { auth: ['device', 'session'], deviceKinds: ['kiosk'] },
      schema: {
        tags: ['front desk'],
        summary: "Check-out by a kiosk or by the host's phone: passes revoked, Koala visitors deleted",
        security: [...DeviceAuth, { bearer: [] as string[] }],
        body: Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'application id' }) }),
        response: { 200: Envelope(SignoutAnswer), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      if (req.device) return ok(await visits.signout({ kind: 'device', id: String(req.device.id) }, req.body.id));
      if (!req.weixinUserId) throw new AppError('UNAUTHENTICATED');
      const hostPhone = await deps.identity.requirePhone(req.weixinUserId);
      return ok(await visits.signout({ kind: 'staff', id: hostPhone }, req.body.id, { hostPhone }));
    },
  );

  adminSignoutRoute(app, visits);

  r.get(
    '/v1/visit/qrcode/:file',
    {
      schema: {
        tags: ['front desk'],
        summary: 'The QR picture of a pass (the qrcode_img_url of a sign-in); 404 once checked out',
        params: Type.Object({ file: Type.String({ pattern: '^[1-9][0-9]{0,15}\\.png$' }) }),
        querystring: Type.Object({ k: Type.String({ minLength: 1, maxLength: 64 }) }),
        // No response schema: the answer is a PNG (errors are the usual envelope, 400 / 404).
      },
    },
    async (req, reply) => {
      const content = await visits.passForImage(Number(req.params.file.slice(0, -4)), req.query.k);
      if (content === null) throw new AppError('NOT_FOUND', '通行码不存在或已失效');
      const png = await QRCode.toBuffer(content, { type: 'png', errorCorrectionLevel: 'M', margin: 2, scale: 8 });
      // The picture is the pass: no shared cache may keep it, and a browser only briefly.
      return reply.header('content-type', 'image/png').header('cache-control', 'private, max-age=300').header('referrer-policy', 'no-referrer').send(png);
    },
  );
}

/** The console's check-out: the kiosk's, with the admin as the audited actor. */
function adminSignoutRoute(app: FastifyInstance, visits: Visits): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post(
    '/v1/visit/records/:id/signout',
    {
      config: { auth: 'admin' },
      preValidation: decimalIntegers('params', ['id']),
      schema: {
        tags: ['admin'],
        summary: "Admin: check out a visit in progress (the kiosk's rules: 409 before sign-in; again answers the first)",
        security: BearerAuth,
        params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'application id' }) }),
        response: { 200: Envelope(SignoutAnswer), ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (req) => ok(await visits.signout({ kind: 'admin', id: String(adminOf(req).id) }, req.params.id)),
  );
}
