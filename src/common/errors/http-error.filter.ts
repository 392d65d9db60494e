import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Inject,
} from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { LOGGER } from '../logging/logger.js';
import { assertNever, DomainError, type ErrorKind, OAuthProtocolError } from './domain-error.js';

export function statusForKind(kind: ErrorKind): number {
  switch (kind) {
    case 'invalid':
      return 400;
    case 'unauthenticated':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'too_large':
      return 413;
    case 'unprocessable':
      return 422;
    case 'internal':
      return 500;
    case 'upstream':
      return 502;
    case 'unavailable':
      return 503;
    case 'upstream_timeout':
      return 504;
    default:
      return assertNever(kind, 'error kind');
  }
}

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown>; requestId?: string };
}

/**
 * The one place that turns any thrown value into an HTTP response: used by the global filter and
 * by the proxy's handler, which runs before Nest's pipeline.
 */
export function writeError(
  res: ServerResponse,
  exception: unknown,
  requestId: string | undefined,
  logger: Logger,
): void {
  const send = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  };
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (exception instanceof OAuthProtocolError) {
    if (exception.status === 401 && exception.usedBasicAuth) {
      res.setHeader('WWW-Authenticate', 'Basic realm="latchkey"');
    }
    if (exception.retryAfterSeconds !== undefined)
      res.setHeader('Retry-After', String(exception.retryAfterSeconds));
    res.setHeader('Cache-Control', 'no-store');
    send(exception.status, { error: exception.error, error_description: exception.description });
    return;
  }
  const { status, body } = toBody(exception, requestId);
  if (status >= 500 && status !== 502 && status !== 503 && status !== 504) {
    logger.error({ err: exception, requestId }, 'request failed');
  }
  if (exception instanceof DomainError && exception.retryAfterSeconds !== undefined) {
    res.setHeader('Retry-After', String(exception.retryAfterSeconds));
  }
  if (status === 401 && !res.getHeader('WWW-Authenticate')) {
    res.setHeader('WWW-Authenticate', 'Bearer realm="latchkey"');
  }
  send(status, body);
}

function toBody(
  exception: unknown,
  requestId: string | undefined,
): { status: number; body: ErrorBody } {
  const make = (
    status: number,
    code: string,
    message: string,
    details?: Record<string, unknown>,
  ) => ({
    status,
    body: {
      error: {
        code,
        message,
        ...(details ? { details } : {}),
        ...(requestId ? { requestId } : {}),
      },
    },
  });
  if (exception instanceof DomainError) {
    return make(
      statusForKind(exception.kind),
      exception.code,
      exception.message,
      exception.details,
    );
  }
  // body-parser and the router raise these before any handler runs; Nest wraps them in an
  // HttpException whose cause is the original error.
  const original = exception instanceof HttpException ? (exception.cause ?? exception) : exception;
  const bodyParserType = (original as { type?: unknown } | undefined)?.type;
  if (bodyParserType === 'entity.too.large') {
    return make(413, 'request.too_large', 'The request body is larger than this endpoint accepts.');
  }
  if (bodyParserType === 'entity.parse.failed') {
    return make(400, 'request.malformed_body', 'The request body is not valid JSON or form data.');
  }
  if (original instanceof URIError) {
    return make(400, 'request.malformed_path', 'The request path is not validly percent-encoded.');
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 404) return make(404, 'route.not_found', 'No such route.');
    if (status === 405) return make(405, 'route.method_not_allowed', 'Method not allowed.');
    if (status < 500) return make(status, 'request.rejected', exception.message);
  }
  return make(500, 'internal', 'An internal error occurred.');
}

@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request & { id?: string }>();
    writeError(
      ctx.getResponse<Response>(),
      exception,
      typeof req.id === 'string' ? req.id : undefined,
      this.logger,
    );
  }
}
