import type { IncomingMessage } from 'node:http';
import { RequestContext } from './common/request-context.js';
import 'reflect-metadata';
import { type INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import cookieParser from 'cookie-parser';
import { json, urlencoded } from 'express';
import { installProxyHandler } from './modules/proxy/proxy.handler.js';
import { AppModule, type AppDependencies } from './app.module.js';
import { DomainError } from './common/errors/domain-error.js';
import { createHttpLogger, PinoNestLogger } from './common/logging/logger.js';
import { MetricsService } from './modules/health/metrics.service.js';
import { publicDirectory } from './modules/console/public-directory.js';
import { staticFiles } from './modules/console/static-files.js';

export type { AppDependencies };

/** The proxy is served ahead of Nest's router (proxy.handler.ts), so its route is described here. */
const PROXY_OPERATION = (method: string) => ({
  operationId: `proxy_${method}`,
  tags: ['proxy'],
  summary: "Call the provider's API as the end user; bodies are streamed both ways. Scope: proxy.",
  security: [{ bearer: [] }],
  parameters: [
    {
      name: 'connectionId',
      in: 'path',
      required: true,
      schema: { type: 'string', format: 'uuid' },
    },
    {
      name: 'path',
      in: 'path',
      required: true,
      description: "Path under the offering's API base",
      schema: { type: 'string' },
    },
  ],
  responses: {
    default: { description: "The provider's response, as it is" },
    '404': { description: 'connection.not_found' },
    '409': { description: 'connection.needs_reauth' },
    '502': { description: 'proxy.upstream_unreachable' },
    '504': { description: 'proxy.upstream_timeout' },
  },
});
const PROXY_OPENAPI = Object.fromEntries(
  ['get', 'post', 'put', 'patch', 'delete'].map((m) => [m, PROXY_OPERATION(m)]),
);

/** Builds the configured application (not yet listening). Used by main.ts and by tests. */
export async function createApp(deps: AppDependencies): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(deps), {
    logger: new PinoNestLogger(deps.logger),
    bodyParser: false,
    abortOnError: false,
  });
  const express = app.getHttpAdapter().getInstance();
  express.disable('x-powered-by');
  // Which proxies may name the client address in X-Forwarded-For (req.ip): none unless configured.
  express.set('trust proxy', deps.config.trustProxy);

  app.use(createHttpLogger(deps.logger));
  // Each request's id and, once authenticated, its caller: what events record.
  app.use((req: IncomingMessage & { id?: unknown }, _res: unknown, next: () => void) =>
    RequestContext.run(
      { requestId: typeof req.id === 'string' ? req.id : null, actor: null },
      next,
    ),
  );
  app.use(app.get(MetricsService).httpMiddleware());
  // Console assets and the browser SDK (public/assets → /assets, public/sdk → /sdk), ahead of Nest.
  app.use(staticFiles(publicDirectory()));
  // (The proxy streams its bodies; its requests never reach Express, see installProxyHandler.)
  app.use(json({ limit: deps.config.apiBodyLimitBytes }));
  app.use(urlencoded({ limit: deps.config.apiBodyLimitBytes, extended: false }));
  app.use(cookieParser());
  // The proxy's hot path is served by the HTTP server before Express (see proxy.handler.ts).
  installProxyHandler(app);
  // Idle keep-alive connections outlive a load balancer's own idle timeout (AWS ALB: 60 s), so the
  // balancer never reuses a connection Latchkey is closing at that moment (a stray 502).
  const server = app.getHttpServer() as import('node:http').Server;
  server.keepAliveTimeout = deps.config.httpKeepAliveTimeoutMs;
  server.headersTimeout = Math.max(
    server.headersTimeout,
    deps.config.httpKeepAliveTimeoutMs + 1000,
  );
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) => {
        const fields: Record<string, string[]> = {};
        const walk = (list: typeof errors, prefix = '') => {
          for (const e of list) {
            const name = prefix + e.property;
            if (e.constraints) fields[name] = Object.values(e.constraints);
            if (e.children?.length) walk(e.children, `${name}.`);
          }
        };
        walk(errors);
        const summary = Object.entries(fields)
          .map(([, msgs]) => msgs.join('; ').replace(/^property /, ''))
          .join('; ');
        return new DomainError('validation.failed', 'invalid', `Invalid request: ${summary}`, {
          fields,
        });
      },
    }),
  );

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Latchkey API')
      .setDescription(
        'Outbound OAuth integration broker. Authenticate with a Bearer token from POST /api/v1/oauth/token.',
      )
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  document.paths['/api/v1/proxy/{connectionId}/{path}'] = PROXY_OPENAPI;
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });

  await app.init();
  return app;
}
