import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';

/** Phone input: any string; normalised and checked (§1) by the service, which names the field. */
export const PhoneInput = Type.String({ minLength: 1, maxLength: 32, description: 'mainland mobile; spaces, dashes and +86/0086/86 are removed' });
export const WeixinUserId = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9_-]+$',
  description: "WeChat openid (optional; must be the session's)",
});
export const SmsCode = Type.String({ maxLength: 16, description: '6-digit code from POST /v1/sms/code' });

export const BearerAuth = [{ bearer: [] as string[] }];

/**
 * A `preValidation` hook for integers in the query string or the path: each named value, when
 * present, must be written in plain decimal digits. Ajv's coercion reads `1e3` as 1000, `0x10`
 * as 16, and lets `Infinity` past `maximum` (which then reaches SQL as OFFSET Infinity); the
 * schema still checks the range afterwards.
 */
export function decimalIntegers(part: 'query' | 'params', fields: string[]) {
  return async function checkDecimal(req: FastifyRequest): Promise<void> {
    const values = (part === 'query' ? req.query : req.params) as Record<string, unknown> | undefined;
    for (const field of fields) {
      const value = values?.[field];
      if (value === undefined || (typeof value === 'string' && /^[0-9]{1,16}$/.test(value))) continue;
      const item = { keyword: 'type', instancePath: `/${field}`, params: { type: 'integer' }, message: 'must be a whole number in decimal digits' };
      throw Object.assign(new Error(`${part}/${field} ${item.message}`), {
        statusCode: 400,
        validation: [item],
        validationContext: part === 'query' ? 'querystring' : 'params',
      });
    }
  };
}
