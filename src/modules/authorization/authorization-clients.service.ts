import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { OAuthApp } from '../oauth-apps/oauth-app.entity.js';
import { appClient, type AuthorizationClient, CLI_CLIENT } from './oauth-clients.js';

/** Finds the client of an authorization request or a token request by its `client_id`. */
@Injectable()
export class AuthorizationClientsService {
  constructor(@InjectRepository(OAuthApp) private readonly apps: Repository<OAuthApp>) {}

  /** The built-in CLI client, or an unrevoked app with redirect URIs; null for anything else. */
  async find(clientId: string): Promise<AuthorizationClient | null> {
    if (clientId === CLI_CLIENT.clientId) return CLI_CLIENT;
    if (clientId.length > 128) return null;
    const app = await this.apps.findOneBy({ clientId, revokedAt: IsNull() });
    return app && app.redirectUris.length > 0 ? appClient(app) : null;
  }
}
