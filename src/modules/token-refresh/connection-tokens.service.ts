import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../app.tokens.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { EventsService } from '../events/events.service.js';
import { type Connection, ConnectionStatus } from '../connections/connection.entity.js';
import { ConnectionError } from '../connections/connections.errors.js';
import { ConnectionContexts } from '../connections/connection-contexts.service.js';
import type { ConnectionCredentials } from '../connections/connection.entity.js';
import { canRenew, ConnectionsService } from '../connections/connections.service.js';
import { compiledTemplateOf } from '../offerings/offering-template.js';
import {
  type CompiledTemplate,
  placeholderValues,
  renderBasicAuthorization,
} from '../providers/templates/index.js';
import { RefreshError } from './token-refresh.errors.js';
import { TokenRefreshService } from './token-refresh.service.js';

/** Hand out tokens earlier than this before expiry only after refreshing. */
export const HANDOUT_MIN_VALIDITY_MS = 60_000;

export interface AccessTokenHandout {
  /** bearer_token: the pasted key. basic: base64 of `user:password` (send as `Basic …`). */
  accessToken: string;
  /** `Bearer`, `Basic`, or what the provider's token response said. */
  tokenType: string;
  expiresAt: string | null;
  instanceUrl: string | null;
  /** bearer_token / basic: the pasted credential fields by key. */
  credentials?: Record<string, string>;
}

@Injectable()
export class ConnectionTokensService {
  constructor(
    private readonly connections: ConnectionsService,
    private readonly refresher: TokenRefreshService,
    private readonly contexts: ConnectionContexts,
    private readonly clock: Clock,
    private readonly events: EventsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async handout(
    workspaceId: string,
    id: string,
    forceRefresh: boolean,
  ): Promise<AccessTokenHandout> {
    let connection = await this.usable(workspaceId, id);
    const pasted = await this.pastedTemplate(connection);
    if (pasted) {
      // Nothing to refresh: a refresh attempt would only end the connection in needs_reauth.
      if (forceRefresh) throw ConnectionError.notRefreshable();
      const credentials = this.connections.credentialsOf(connection);
      if (!credentials) throw ConnectionError.notFound();
      const handout = pastedHandout(pasted, credentials, connection);
      await this.recordHandout(connection, false);
      return handout;
    }
    // Nothing can renew it (no refresh token): refreshing would only end it in needs_reauth.
    if (forceRefresh && !(await this.renewable(connection))) throw ConnectionError.notRefreshable();
    // No expiry: a token that does not expire (nothing to refresh ahead of).
    const expiresAt = connection.accessTokenExpiresAt?.getTime() ?? Infinity;
    const leftMs = expiresAt - this.clock.nowMs();
    // A token nothing can renew is handed out until it expires (never refreshed ahead: the
    // refresh path would mark the connection needs_reauth while its token still works).
    if (
      forceRefresh ||
      (leftMs < HANDOUT_MIN_VALIDITY_MS && (leftMs <= 0 || (await this.renewable(connection))))
    ) {
      try {
        connection = await this.refresher.refresh(connection.id, {
          reason: 'handout',
          observedVersion: connection.credentialsVersion,
        });
      } catch (error) {
        // An early refresh that cannot happen now (an outage, a backoff) does not take away a
        // token that still works; a refresh the caller asked for, or an expired token, fails.
        const stillValid = expiresAt > this.clock.nowMs();
        if (forceRefresh || !stillValid || !(error instanceof RefreshError)) throw error;
      }
    }
    const credentials = this.connections.credentialsOf(connection);
    if (!credentials) throw ConnectionError.notFound();
    await this.recordHandout(connection, forceRefresh);
    return {
      accessToken: credentials.accessToken!,
      tokenType: credentials.tokenType ?? 'Bearer',
      expiresAt: connection.accessTokenExpiresAt?.toISOString() ?? null,
      instanceUrl: connection.instanceUrl,
    };
  }

  /**
   * The audit trail of the designed handout: which connection, to whom (the actor: the caller),
   * recorded before the token leaves, so that no handout goes unrecorded. An operator may turn
   * this one event off (LATCHKEY_AUDIT_TOKEN_HANDOUTS) where handouts are too frequent to keep.
   */
  private async recordHandout(connection: Connection, forceRefresh: boolean): Promise<void> {
    if (!this.config.auditTokenHandouts) return;
    await this.events.record(undefined, {
      type: 'token.handed_out',
      workspaceId: connection.workspaceId,
      subject: { kind: 'connection', id: connection.id },
      data: {
        integrationId: connection.integrationId,
        endUserId: connection.endUserId,
        forceRefresh,
        expiresAt: connection.accessTokenExpiresAt?.toISOString() ?? null,
      },
    });
  }

  private async renewable(connection: Connection): Promise<boolean> {
    const setup = await this.contexts.setupOf(connection.integrationId);
    if (!setup) throw ConnectionError.notFound();
    return canRenew(setup.offering, this.connections.credentialsOf(connection));
  }

  async refreshNow(workspaceId: string, id: string): Promise<Connection> {
    const connection = await this.usable(workspaceId, id);
    if (!(await this.renewable(connection))) throw ConnectionError.notRefreshable();
    return this.refresher.refresh(connection.id, {
      reason: 'api',
      observedVersion: connection.credentialsVersion,
    });
  }

  /** The offering's compiled template when the connection holds pasted credentials. */
  private async pastedTemplate(connection: Connection): Promise<CompiledTemplate | null> {
    const setup = await this.contexts.setupOf(connection.integrationId);
    if (!setup) throw ConnectionError.notFound();
    const t = compiledTemplateOf(setup.offering);
    return t.authMode === 'bearer_token' || t.authMode === 'basic' ? t : null;
  }

  /** Revoked (and other workspaces') connections are not found; needs_reauth ones are a 409. */
  private async usable(workspaceId: string, id: string): Promise<Connection> {
    const connection = await this.connections.get(workspaceId, id);
    if (connection.status === ConnectionStatus.Revoked) throw ConnectionError.notFound();
    if (connection.status === ConnectionStatus.NeedsReauth) throw ConnectionError.needsReauth();
    return connection;
  }
}

/**
 * The handout of pasted credentials: for bearer_token the first credential field as a Bearer
 * token; for basic the pair as a Basic credential (base64 of `user:password`, ready for
 * `Authorization: Basic <accessToken>`); both with the credential fields themselves.
 */
function pastedHandout(
  t: CompiledTemplate,
  credentials: ConnectionCredentials,
  connection: Connection,
): AccessTokenHandout {
  const fields: Record<string, string> = {};
  for (const f of t.credentialFields) {
    const v = credentials[f.key];
    if (typeof v === 'string') fields[f.key] = v;
  }
  const accessToken =
    t.authMode === 'basic'
      ? renderBasicAuthorization(t, placeholderValues({ credentials: fields })).slice(
          'Basic '.length,
        )
      : (fields[t.credentialFields[0]?.key] ?? '');
  return {
    accessToken,
    tokenType: t.authMode === 'basic' ? 'Basic' : 'Bearer',
    expiresAt: null,
    instanceUrl: connection.instanceUrl,
    credentials: fields,
  };
}
