import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, LessThan, Repository } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { sha256Hex } from '../../common/crypto/secret-hash.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import type { Connection } from '../connections/connection.entity.js';
import { ConnectionsService } from '../connections/connections.service.js';
import { IntegrationStatus } from '../integrations/integration.entity.js';
import { IntegrationsService } from '../integrations/integrations.service.js';
import { compiledTemplateOf, templateOf } from '../offerings/offering-template.js';
import { OfferingsService } from '../offerings/offerings.service.js';
import { checkInputs } from '../providers/templates/inputs.js';
import {
  ConnectSession,
  ConnectSessionStatus,
  SESSION_SECRETS_FIELD,
} from './connect-session.entity.js';
import { ConnectError } from './connect.errors.js';
import type { CreateConnectSessionDto } from './dto/connect-session.dto.js';

export const CONNECT_SESSION_TTL_MS = 30 * 60 * 1000;
export const RESULT_CODE_TTL_MS = 60 * 1000;

@Injectable()
export class ConnectSessionsService {
  constructor(
    @InjectRepository(ConnectSession) private readonly sessions: Repository<ConnectSession>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly integrations: IntegrationsService,
    private readonly offerings: OfferingsService,
    private readonly connections: ConnectionsService,
    private readonly keyRing: KeyRing,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** A single-use, 30-minute link for one end user of one configured integration. */
  async create(
    workspaceId: string,
    input: CreateConnectSessionDto,
  ): Promise<{ session: ConnectSession; token: string; connectUrl: string }> {
    const integration = await this.integrations.get(workspaceId, input.integrationId);
    const offering = await this.offerings.getUsable(integration.offeringId);
    const mode = compiledTemplateOf(offering).authMode;
    if (mode === 'oauth2_client_credentials') throw ConnectError.machineOnly();
    // Pasted credentials need no client at the provider: nothing to have configured.
    if (mode === 'oauth2' && integration.status !== IntegrationStatus.Configured)
      throw ConnectError.integrationNotConfigured();
    if (
      input.redirectUri !== undefined &&
      !integration.allowedRedirectUris.includes(input.redirectUri)
    ) {
      throw ConnectError.redirectUriNotAllowed();
    }
    // Checked before anything is stored: a hostile value (another host, CR/LF) is refused here.
    const configuration = checkInputs(
      templateOf(offering).connectionConfig ?? [],
      input.configuration,
    );
    if (configuration.problems.length)
      throw ConnectError.invalidConfiguration(configuration.problems);
    if (input.autoStart && configuration.missing.length) {
      // An autoStart link skips the page where the end user would fill them in.
      throw ConnectError.invalidConfiguration(
        configuration.missing.map((key) => ({
          key,
          message: 'is required when autoStart is true (the connect page is skipped)',
        })),
      );
    }
    const id = this.random.uuid();
    const token = this.random.token(32);
    const session = await this.sessions.save(
      this.sessions.create({
        id,
        configuration: configuration.readable,
        configurationSecretsEnc: Object.keys(configuration.secret).length
          ? this.keyRing.encrypt(JSON.stringify(configuration.secret), {
              ...SESSION_SECRETS_FIELD,
              rowId: id,
            })
          : null,
        workspaceId,
        integrationId: integration.id,
        tokenHash: sha256Hex(token),
        endUserId: input.endUser.id,
        endUserEmail: input.endUser.email ?? null,
        endUserDisplayName: input.endUser.displayName ?? null,
        redirectUri: input.redirectUri ?? null,
        clientState: input.state ?? null,
        autoStart: input.autoStart ?? false,
        status: ConnectSessionStatus.Pending,
        expiresAt: new Date(this.clock.nowMs() + CONNECT_SESSION_TTL_MS),
        connectionId: null,
        error: null,
        resultCodeHash: null,
        resultCodeExpiresAt: null,
      }),
    );
    // Housekeeping: sessions long past their life (indexed by expires_at).
    await this.sessions.delete({
      expiresAt: LessThan(new Date(this.clock.nowMs() - 24 * 60 * 60 * 1000)),
    });
    return { session, token, connectUrl: `${this.config.publicUrl}/connect/${token}` };
  }

  /** The connection behind a one-time completion code; the code is spent by this call. */
  async exchange(workspaceId: string, code: string): Promise<Connection> {
    // For UPDATE … RETURNING, TypeORM's postgres driver answers [rows, affectedCount].
    const [rows]: [Array<{ connection_id: string | null; result_code_expires_at: Date }>, number] =
      await this.dataSource.query(
        `UPDATE connect_sessions SET result_code_hash = NULL
        WHERE result_code_hash = $1 AND workspace_id = $2
        RETURNING connection_id, result_code_expires_at`,
        [sha256Hex(code), workspaceId],
      );
    const row = rows[0];
    if (!row || !row.connection_id || row.result_code_expires_at.getTime() <= this.clock.nowMs()) {
      throw ConnectError.invalidCode();
    }
    return this.connections.get(workspaceId, row.connection_id);
  }
}
