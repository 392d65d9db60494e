import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import type { LogLevel } from '../../config/config.js';

export const LOGGER = Symbol('LOGGER');

/**
 * Paths never written to a log. Request and response bodies are not logged at all; these catch
 * secrets that reach a log object by other routes (errors, context objects).
 */
const SECRET_KEYS = [
  'password',
  'secret',
  'clientSecret',
  'client_secret',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'token',
  // The authorization-code flow's form and PKCE secrets ("code" itself would hide error codes;
  // codes travel only in a redirect's Location, below).
  'code_verifier',
  'codeVerifier',
  'consent',
  '_csrf',
  'databaseUrl',
  'encryptionKeys',
];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  // A redirect back to an app carries its authorization code.
  'res.headers.location',
  // Secret-named keys at the top of a log object and one level down ("*.x" alone misses the top).
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  'err.config',
  // Database errors carry the statement's parameters (ciphertexts and hashes today; never risk more).
  'err.parameters',
  'err.driverError.parameters',
];

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'latchkey' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Paths that carry a bearer secret (connect and invitation links) are logged without it. */
export function redactPath(path: string): string {
  // Case-insensitive: the router matches /Invitations/… too, and so serves the secret under it.
  return path
    .replace(/^\/connect\/[^/]+/i, '/connect/[redacted]')
    .replace(/^\/invitations\/[^/]+/i, '/invitations/[redacted]');
}

/** The request's id: a well-formed incoming X-Request-Id, otherwise a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** Request logging, under the id `requestIdOf` gives, which goes back in X-Request-Id. */
export function createHttpLogger(logger: Logger): HttpLogger {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const id = requestIdOf(req);
      res.setHeader('X-Request-Id', id);
      return id;
    },
    // Query strings can carry OAuth codes and states: log the path only.
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        path: redactPath(req.url.split('?')[0]),
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, err) =>
      err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug',
    autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
  });
}

/** Routes Nest's own log calls into pino. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  // Nest's own "log" level is start-up chatter (module and route listings): debug for us.
  log(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
