import type { INestApplication } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DomainError } from '../../common/errors/domain-error.js';
import { requestIdOf } from '../../common/logging/logger.js';
import { UUID } from '../../common/validation/uuid.js';
import { ApiAuthenticator } from '../auth/api-auth.guard.js';
import { PROXY_PREFIX } from './proxy.constants.js';
import { ProxyService } from './proxy.service.js';

const LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ID_LENGTH = 36;

/**
 * The proxy's hot path, served straight from the HTTP server ahead of Express and Nest (no
 * request logging middleware, cookie or body parsing, routing): authentication, scope check and
 * forwarding, nothing else. It uses the same authenticator as every other route and the same
 * error mapper (through `ProxyService.fail`). Calls are logged at debug level; failures at warn/error.
 */
export function installProxyHandler(app: INestApplication): void {
  const server = app.getHttpServer() as import('node:http').Server;
  const handle = proxyHandler(app);
  const others = server.listeners('request') as Array<
    (req: IncomingMessage, res: ServerResponse) => void
  >;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith(PROXY_PREFIX)) handle(req, res);
    else for (const listener of others) listener(req, res);
  });
}

function proxyHandler(app: INestApplication) {
  const proxy = app.get(ProxyService);
  const authenticator = app.get(ApiAuthenticator);

  return (req: IncomingMessage, res: ServerResponse): void => {
    const requestId = requestIdOf(req);
    try {
      const connectionId = connectionIdOf(req.url!);
      // The query string belongs to the provider's API: no ?workspaceId= override on the proxy.
      authenticator.principal(req as never, ['proxy'], { workspaceOverride: false }).then(
        (principal) => proxy.forward(principal, connectionId, req, res, requestId),
        (error: unknown) => proxy.fail(error, req, res, requestId),
      );
    } catch (error) {
      proxy.fail(error, req, res, requestId);
    }
  };
}

const invalidId = () =>
  new DomainError('validation.failed', 'invalid', 'The connection id in the path must be a UUID.');

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
