import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ConnectionsModule } from '../connections/connections.module.js';
import { IntegrationsModule } from '../integrations/integrations.module.js';
import { OfferingsModule } from '../offerings/offerings.module.js';
import { ProvidersModule } from '../providers/providers.module.js';
import { ConnectFlowService } from './connect-flow.service.js';
import { ConnectPagesController } from './connect-pages.controller.js';
import { ConnectSession } from './connect-session.entity.js';
import { ConnectSessionsController } from './connect-sessions.controller.js';
import { ConnectSessionsService } from './connect-sessions.service.js';
import { CredentialsFlowService } from './credentials-flow.service.js';
import { OAuthFlow } from './oauth-flow.entity.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([ConnectSession, OAuthFlow]),
    IntegrationsModule,
    OfferingsModule,
    ProvidersModule,
    ConnectionsModule,
  ],
  controllers: [ConnectSessionsController, ConnectPagesController],
  providers: [ConnectSessionsService, ConnectFlowService, CredentialsFlowService],
})
export class ConnectModule {}
