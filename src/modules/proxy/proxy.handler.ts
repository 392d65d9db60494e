import type { INestApplication } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { writeError } from '../../common/errors/http-error.filter.js';
import { DomainError } from '../../common/errors/domain-error.js';
import { LOGGER, requestIdOf } from '../../common/logging/logger.js';
import { ApiAuthenticator } from '../auth/api-auth.guard.js';
import { PROXY_PREFIX } from './proxy.constants.js';
import { ProxyService } from './proxy.service.js';

const LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ID_LENGTH = 36;

/**
 * The proxy's hot path, served straight from the HTTP server ahead of Express and Nest (no
 * request logging middleware, cookie or body parsing, routing): authentication, scope check and
 * forwarding, nothing else. It uses the same authenticator as every other route and the same
 * error mapper. Calls are logged at debug level; failures at warn/error.
 */
export function installProxyHandler(app: INestApplication): void {
  const server = app.getHttpServer() as import('node:http').Server;
  const handle = proxyHandler(app);
  const others = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith(PROXY_PREFIX)) handle(req, res);
    else for (const listener of others) listener(req, res);
  });
}

function proxyHandler(app: INestApplication) {
  const proxy = app.get(ProxyService);
  const authenticator = app.get(ApiAuthenticator);
  const logger = app.get<Logger>(LOGGER);
  const debug = logger.isLevelEnabled('debug');

  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url!;
    const requestId = requestIdOf(req);
    const started = debug ? process.hrtime.bigint() : 0n;
    let done: Promise<void>;
    try {
      const connectionId = connectionIdOf(url);
      // The query string belongs to the provider's API: no ?workspaceId= override on the proxy.
      const principal = authenticator.principal(req as never, ['proxy'], { workspaceOverride: false });
      done =
        principal instanceof Promise
          ? principal.then((p) => proxy.forward(p, connectionId, req, res, requestId))
          : proxy.forward(principal, connectionId, req, res, requestId);
    } catch (error) {
      done = Promise.reject(error);
    }
    done.then(
      debug
        ? () => logger.debug({ requestId, method: req.method, connectionId: url.slice(PROXY_PREFIX.length, PROXY_PREFIX.length + ID_LENGTH), status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'proxied')
        : undefined,
      (error: unknown) => {
        if (!(error instanceof DomainError) || error.kind === 'upstream' || error.kind === 'upstream_timeout') {
          logger.warn({ requestId, method: req.method, code: (error as DomainError).code }, 'proxy call failed');
        }
        if (!res.headersSent) res.setHeader('X-Request-Id', requestId);
        writeError(res, error, requestId, logger);
      },
    );
  };
}

const invalidId = () => new DomainError('validation.failed', 'invalid', 'The connection id in the path must be a UUID.');

/**
 * The connection id: the path segment right after the prefix, which must be a UUID. Lower-cased,
 * as the database and the change feed spell it, so one connection has one cache entry.
 */
function connectionIdOf(url: string): string {
  const start = PROXY_PREFIX.length;
  const id = url.slice(start, start + ID_LENGTH);
  const next = url.charCodeAt(start + ID_LENGTH); // "/" or "?" or the end
  if (!(next === 47 || next === 63 || Number.isNaN(next))) throw invalidId();
  if (LOWER_UUID.test(id)) return id;
  if (!UUID.test(id)) throw invalidId();
  return id.toLowerCase();
}
