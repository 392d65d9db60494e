import { type DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ANNOUNCE, APP_CONFIG, type Announce } from './app.tokens.js';
import { KeyRing } from './common/crypto/key-ring.js';
import { HttpErrorFilter } from './common/errors/http-error.filter.js';
import { LOGGER } from './common/logging/logger.js';
import { RandomSource } from './common/random.js';
import { Clock } from './common/time/clock.js';
import type { AppConfig } from './config/config.js';
import { dataSourceOptions } from './database/data-source.js';
import { AuthModule } from './modules/auth/auth.module.js';
import { BootstrapModule } from './modules/bootstrap/bootstrap.module.js';
import { ChangeFeedModule } from './common/events/change-feed.js';
import { OutboundHttpModule } from './common/http/outbound-http.js';
import { EventsModule } from './modules/events/events.module.js';
import { HealthModule } from './modules/health/health.module.js';
import { ConsoleModule } from './modules/console/console.module.js';
import { ConnectModule } from './modules/connect/connect.module.js';
import { ConnectionsModule } from './modules/connections/connections.module.js';
import { IntegrationsModule } from './modules/integrations/integrations.module.js';
import { MembersModule } from './modules/members/members.module.js';
import { AuthorizationModule } from './modules/authorization/authorization.module.js';
import { OfferingsModule } from './modules/offerings/offerings.module.js';
import { OAuthAppsModule } from './modules/oauth-apps/oauth-apps.module.js';
import { ProxyModule } from './modules/proxy/proxy.module.js';
import { TokenRefreshModule } from './modules/token-refresh/token-refresh.module.js';
import { UsersModule } from './modules/users/users.module.js';
import { WorkspacesModule } from './modules/workspaces/workspaces.module.js';
import { WebhooksModule } from './modules/webhooks/webhooks.module.js';

export interface AppDependencies {
  config: AppConfig;
  databaseUrl: string;
  keyRing: KeyRing;
  logger: Logger;
  clock: Clock;
  random: RandomSource;
  announce: Announce;
}

/** Values made outside Nest (config, key ring, logger, clock), available everywhere. */
@Global()
@Module({})
class CoreModule {
  static forRoot(deps: AppDependencies): DynamicModule {
    const providers = [
      { provide: APP_CONFIG, useValue: deps.config },
      { provide: KeyRing, useValue: deps.keyRing },
      { provide: LOGGER, useValue: deps.logger },
      { provide: Clock, useValue: deps.clock },
      { provide: RandomSource, useValue: deps.random },
      { provide: ANNOUNCE, useValue: deps.announce },
    ];
    return { module: CoreModule, providers, exports: providers.map((p) => p.provide) };
  }
}

@Module({})
export class AppModule {
  static forRoot(deps: AppDependencies): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(deps),
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(deps.databaseUrl),
          dataSourceFactory: async (options) => new DataSource(options!).initialize(),
        }),
        ScheduleModule.forRoot(),
        ChangeFeedModule,
        EventsModule,
        OutboundHttpModule,
        WorkspacesModule,
        UsersModule,
        MembersModule,
        AuthorizationModule,
        OfferingsModule,
        IntegrationsModule,
        ConnectionsModule,
        ConnectModule,
        TokenRefreshModule,
        ProxyModule,
        OAuthAppsModule,
        WebhooksModule,
        AuthModule,
        HealthModule,
        BootstrapModule,
        // Last: its /oauth/:integrationId must not shadow the connect module's /oauth/callback.
        ConsoleModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: HttpErrorFilter }],
    };
  }
}
