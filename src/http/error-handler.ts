import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/client.js';
import { AppError, defaultMessage, UpstreamError, type ErrorCode } from '../errors.js';

interface ValidationItem {
  instancePath?: string;
  params?: Record<string, unknown>;
  message?: string;
  keyword?: string;
}

/** `/retinues/0/phone` → `retinues[0].phone`. */
export function fieldName(instancePath: string, missing?: unknown): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (typeof missing === 'string') parts.push(missing);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function describeValidation(err: FastifyError): string {
  const first = (err.validation as ValidationItem[] | undefined)?.[0];
  const where = (err as { validationContext?: string }).validationContext ?? 'body';
  if (!first) return `请求参数不正确（${where}）`;
  const field = fieldName(first.instancePath ?? '', first.params?.missingProperty ?? first.params?.requiredProperty);
  const name = field || where;
  if (first.keyword === 'required') return `缺少必填字段 ${name}`;
  return `字段 ${name} 不正确：${first.message ?? 'invalid'}`;
}

/**
 * The only place where failures become HTTP answers (api-contract.md §1, §6). 5xx bodies are
 * generic and carry the request id; the detail goes to the log.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) {
        const level = err instanceof UpstreamError ? 'warn' : 'error';
        req.log[level]({ err, code: err.code, detail: err.detail }, 'request failed');
      } else if (err.detail) {
        req.log.info({ code: err.code, detail: err.detail }, 'request refused');
      }
      if (err.retryAfter !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfter))));
      const message = err.status >= 500 ? `${err.message}（请求编号 ${req.id}）` : err.message;
      return send(reply, err.status, err.code, message);
    }
    // An unknown route is 404 whatever its body (§2: the route is checked first): Fastify parses
    // the body before it calls the not-found handler, so a parse error must not turn it into a 400.
    if (req.is404) return send(reply, 404, 'NOT_FOUND', '接口不存在');
    const fe = err as FastifyError;
    if (fe.validation) return send(reply, 400, 'VALIDATION_FAILED', describeValidation(fe));
    const status = fe.statusCode ?? 500;
    if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (fe instanceof SyntaxError && status === 400)) {
      return send(reply, 400, 'VALIDATION_FAILED', '请求体不是有效的 JSON（body）');
    }
    // Malformed input is 400 VALIDATION_FAILED, the only status the contract's catalogue (§6) has for it.
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return send(reply, 400, 'VALIDATION_FAILED', '不支持的 Content-Type，请发送 application/json（body）');
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return send(reply, 400, 'VALIDATION_FAILED', '请求体过大（body）');
    if (status === 429) {
      return send(reply, 429, 'RATE_LIMITED', defaultMessage('RATE_LIMITED'));
    }
    if (status >= 400 && status < 500) {
      req.log.info({ err }, 'bad request');
      return send(
        reply,
        status === 404 ? 404 : 400,
        status === 404 ? 'NOT_FOUND' : 'VALIDATION_FAILED',
        status === 404 ? defaultMessage('NOT_FOUND') : `请求不正确：${fe.message}`,
      );
    }
    if (isDatabaseUnavailable(err)) {
      // The database is down or restarting: like any system that is down, 503 and "try again", not a bug (500).
      req.log.warn({ detail: databaseCause(err) }, 'database unavailable');
      void reply.header('retry-after', '2');
      return send(reply, 503, 'UPSTREAM_UNAVAILABLE', `${defaultMessage('UPSTREAM_UNAVAILABLE')}（请求编号 ${req.id}）`);
    }
    req.log.error({ err }, 'unexpected error');
    return send(reply, 500, 'INTERNAL', `${defaultMessage('INTERNAL')}（请求编号 ${req.id}）`);
  });

  app.setNotFoundHandler((_req, reply) => send(reply, 404, 'NOT_FOUND', '接口不存在'));
}

/**
 * For `Fastify({ frameworkErrors })`: what the router refuses before any hook or route runs (a
 * broken percent-escape in the path, a path parameter longer than `maxParamLength`). Without it
 * Fastify answers those in its own shape, outside the envelope (§1).
 */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
  const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? '请求路径中的参数过长（path）' : '请求路径不是有效的 URL（path）';
  return send(reply, 400, 'VALIDATION_FAILED', message);
}

/** The driver's own message (drizzle's wrapper carries the SQL and its parameters: kept out of the log). */
function databaseCause(err: unknown): string {
  let e = err as { cause?: unknown; message?: unknown; code?: unknown };
  for (let i = 0; i < 5 && e.cause && typeof e.cause === 'object'; i++) e = e.cause as typeof e;
  return `${typeof e.code === 'string' ? `${e.code} ` : ''}${typeof e.message === 'string' ? e.message.slice(0, 200) : ''}`;
}

function send(reply: FastifyReply, status: number, error: ErrorCode, message: string) {
  return reply.code(status).type('application/json; charset=utf-8').send({ code: status, err_msg: message, error });
}
