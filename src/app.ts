import 'reflect-metadata';
import { type INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import cookieParser from 'cookie-parser';
import { json, type NextFunction, type Request, type Response, urlencoded } from 'express';
import { PROXY_PREFIX } from './modules/proxy/proxy.constants.js';
import { AppModule, type AppDependencies } from './app.module.js';
import { DomainError } from './common/errors/domain-error.js';
import { createHttpLogger, PinoNestLogger } from './common/logging/logger.js';
import { MetricsService } from './modules/health/metrics.service.js';

export type { AppDependencies };

/** Builds the configured application (not yet listening). Used by main.ts and by tests. */
export async function createApp(deps: AppDependencies): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(deps), {
    logger: new PinoNestLogger(deps.logger),
    bodyParser: false,
    abortOnError: false,
  });
  const express = app.getHttpAdapter().getInstance();
  express.disable('x-powered-by');
  express.set('trust proxy', false);

  app.use(createHttpLogger(deps.logger));
  app.use(app.get(MetricsService).httpMiddleware());
  // Bodies are parsed for every route but the proxy, whose request bodies are streamed upstream.
  const jsonBody = json({ limit: deps.config.apiBodyLimitBytes });
  const formBody = urlencoded({ limit: deps.config.apiBodyLimitBytes, extended: false });
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.path.startsWith(PROXY_PREFIX)) return next();
    jsonBody(req, res, (err?: unknown) => (err ? next(err) : formBody(req, res, next)));
  });
  app.use(cookieParser());
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
        return new DomainError('validation.failed', 'invalid', `Invalid request: ${summary}`, { fields });
      },
    }),
  );

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Latchkey API')
      .setDescription('Outbound OAuth integration broker. Authenticate with a Bearer token from POST /api/v1/oauth/token.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });

  await app.init();
  return app;
}
