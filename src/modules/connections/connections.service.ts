import {
  cursorTimeSql,
  decodeKeysetCursor,
  encodeKeysetCursor,
} from '../../common/pagination/keyset-cursor.js';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../app.tokens.js';
import type { AppConfig } from '../../config/config.js';
import { nextRefreshAt } from '../token-refresh/refresh-policy.js';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, Repository } from 'typeorm';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { entityFromRow } from '../../database/entity-from-row.js';
import { preparedQuery } from '../../database/prepared-query.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import type { Actor } from '../../common/request-context.js';
import { EventsService } from '../events/events.service.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import type { Integration } from '../integrations/integration.entity.js';
import type { Offering } from '../offerings/offering.entity.js';
import { compiledTemplateOf } from '../offerings/offering-template.js';
import type { ProviderIdentity, TokenSet } from '../providers/provider-client.service.js';
import {
  Connection,
  type ConnectionCredentials,
  ConnectionStatus,
  CREDENTIALS_FIELD,
} from './connection.entity.js';
import { ConnectionError } from './connections.errors.js';
import { KEY_PATTERN } from '../providers/templates/placeholders.js';
import { ConnectionResponse } from './dto/connection.dto.js';

/** Caps on a connection's metadata (what PATCH may make it; the provider's own is not capped). */
export const METADATA_MAX_KEYS = 100;
export const METADATA_MAX_BYTES = 16 * 1024;

export interface ConnectionFilter {
  integrationId?: string;
  endUserId?: string;
  status?: ConnectionStatus;
  limit: number;
  cursor?: string;
}

export interface EndUser {
  id: string;
  email?: string | null;
  displayName?: string | null;
}

@Injectable()
export class ConnectionsService {
  /** `get`'s statement, its columns named from the entity. */
  private readonly getSql: string;

  constructor(
    @InjectRepository(Connection) private readonly connections: Repository<Connection>,
    private readonly keyRing: KeyRing,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly changes: ChangeFeed,
    private readonly events: EventsService,
  ) {
    const columns = connections.metadata.columns.map((c) => `"${c.databaseName}"`).join(', ');
    this.getSql = `SELECT ${columns} FROM connections WHERE id = $1 AND workspace_id = $2`;
  }

  /** When the scheduler should refresh a token that expires at `expiresAt`. */
  scheduleFor(expiresAt: Date, issuedAt: number, hasRefreshToken: boolean): Date | null {
    if (!hasRefreshToken) return null;
    return nextRefreshAt({
      expiresAt,
      issuedAt,
      now: this.clock.nowMs(),
      marginSeconds: this.config.refreshMarginSeconds,
      random: this.random.fraction(),
    });
  }

  /**
   * One connection of one workspace. On every handout's path, so a prepared statement naming its
   * columns (a `*` would break the prepared plan when a migration adds a column under a running
   * replica).
   */
  async get(workspaceId: string, id: string): Promise<Connection> {
    const [row] = (await preparedQuery(
      this.connections.manager,
      'latchkey_get_connection',
      this.getSql,
      [id, workspaceId],
    )) as Array<Record<string, unknown>>;
    if (!row) throw ConnectionError.notFound();
    return entityFromRow(this.connections, row);
  }

  /**
   * API views of connections: no credentials, no secret configuration, and no metadata keys
   * their offering lists in `sensitiveKeys`.
   */
  async views(connections: Connection[]): Promise<ConnectionResponse[]> {
    const integrationIds = [...new Set(connections.map((c) => c.integrationId))];
    const hidden = new Map<string, ReadonlySet<string>>();
    if (integrationIds.length) {
      const rows: Array<{ id: string; keys: unknown }> = await this.connections.manager.query(
        `SELECT i.id, o.template -> 'sensitiveKeys' AS keys
         FROM integrations i JOIN offerings o ON o.id = i.offering_id
         WHERE i.id = ANY($1::uuid[])`,
        [integrationIds],
      );
      for (const row of rows)
        hidden.set(
          row.id,
          new Set(Array.isArray(row.keys) ? row.keys.filter((k) => typeof k === 'string') : []),
        );
    }
    return connections.map((c) => ConnectionResponse.of(c, hidden.get(c.integrationId)));
  }

  async view(connection: Connection): Promise<ConnectionResponse> {
    return (await this.views([connection]))[0];
  }

  /**
   * Merges `patch` into a connection's metadata (`null` deletes a key), under the caps. Revoked
   * connections are gone as far as this is concerned. Every replica's proxy drops the
   * connection's runtime (its headers may read metadata).
   */
  async updateMetadata(
    workspaceId: string,
    id: string,
    patch: Record<string, unknown>,
  ): Promise<Connection> {
    const badKeys = Object.keys(patch).filter((k) => !KEY_PATTERN.test(k));
    if (badKeys.length) throw ConnectionError.invalidMetadataKeys(badKeys);
    return this.connections.manager.transaction(async (manager) => {
      const repo = manager.getRepository(Connection);
      const connection = await repo.findOne({
        where: { id, workspaceId },
        lock: { mode: 'pessimistic_write' },
      });
      if (!connection || connection.status === ConnectionStatus.Revoked)
        throw ConnectionError.notFound();
      const merged: Record<string, unknown> = { ...connection.metadata };
      for (const [key, value] of Object.entries(patch)) {
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      const tooLarge =
        Object.keys(merged).length > METADATA_MAX_KEYS ||
        Buffer.byteLength(JSON.stringify(merged)) > METADATA_MAX_BYTES;
      // A patch that only deletes keys is always allowed (it can only shrink the metadata).
      if (tooLarge && Object.values(patch).some((v) => v !== null))
        throw ConnectionError.metadataTooLarge(METADATA_MAX_KEYS, METADATA_MAX_BYTES);
      connection.metadata = merged;
      const saved = await repo.save(connection);
      await this.changes.publish({ kind: 'connection', id: connection.id }, { manager });
      return saved;
    });
  }

  /** Newest first, keyset-paginated on (created_at, id), to the microsecond PostgreSQL keeps. */
  async list(
    workspaceId: string,
    filter: ConnectionFilter,
  ): Promise<{ data: Connection[]; nextCursor: string | null }> {
    const q = this.connections
      .createQueryBuilder('c')
      .where('c.workspace_id = :workspaceId', { workspaceId })
      .orderBy('c.created_at', 'DESC')
      .addOrderBy('c.id', 'DESC')
      .limit(filter.limit + 1);
    if (filter.integrationId)
      q.andWhere('c.integration_id = :integrationId', { integrationId: filter.integrationId });
    if (filter.endUserId) q.andWhere('c.end_user_id = :endUserId', { endUserId: filter.endUserId });
    if (filter.status) q.andWhere('c.status = :status', { status: filter.status });
    if (filter.cursor) {
      const { createdAt, id } = decodeKeysetCursor(filter.cursor, () =>
        ConnectionError.invalidCursor(),
      );
      q.andWhere('(c.created_at, c.id) < (:createdAt, :id)', { createdAt, id });
    }
    // The exact timestamp for the cursor: a JavaScript Date would cut it to milliseconds.
    q.addSelect(cursorTimeSql('c.created_at'), 'cursor_time');
    const { entities, raw } = await q.getRawAndEntities<{ cursor_time: string }>();
    const more = entities.length > filter.limit;
    const data = entities.slice(0, filter.limit);
    const last = data.length - 1;
    return {
      data,
      nextCursor:
        more && last >= 0 ? encodeKeysetCursor(raw[last].cursor_time, data[last].id) : null,
    };
  }

  /**
   * Stores an authorization: a new connection, or the same end user's existing connection to
   * the same provider account, updated in place with the new credentials and made active again.
   * The one writer of new and reconnected connections, whatever the auth mode: OAuth tokens
   * (`tokens`), or pasted credentials (`credentials`, no tokens: nothing to refresh).
   */
  async upsertFromAuthorization(
    manager: EntityManager,
    input: {
      integration: Integration;
      offering: Offering;
      endUser: EndUser;
      identity: ProviderIdentity;
      /** OAuth modes: the token response. Absent for pasted credentials. */
      tokens?: TokenSet;
      /** bearer_token / basic: the pasted credential fields, by key. */
      credentials?: Record<string, string>;
      accessTokenExpiresAt: Date | null;
      /** Identity, token-response, userDetails and registration metadata (and an import's own). */
      metadata?: Record<string, unknown>;
      /** Registration outputs for the credentials bag. */
      extraCredentials?: Record<string, string>;
      configuration?: Record<string, string>;
      secretConfiguration?: Record<string, string>;
      /** Renewable without a refresh token (client credentials): scheduled like a refresh. */
      renewable?: boolean;
      /** Who connected, when not the request's caller: the end user on the connect pages. */
      actor?: Actor;
    },
  ): Promise<Connection> {
    const repo = manager.getRepository(Connection);
    const { integration, endUser, identity, tokens } = input;
    // Two first-time flows for the same account must not both insert: a row lock cannot guard a
    // row that does not exist yet, so serialise on the account key for this transaction.
    await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `connection:${integration.id}:${endUser.id}:${identity.userId}`,
    ]);
    const existing = await repo.findOne({
      where: {
        integrationId: integration.id,
        endUserId: endUser.id,
        providerUserId: identity.userId,
      },
      lock: { mode: 'pessimistic_write' },
    });
    const connection =
      existing ??
      repo.create({
        id: this.random.uuid(),
        workspaceId: integration.workspaceId,
        integrationId: integration.id,
        endUserId: endUser.id,
        providerUserId: identity.userId,
        metadata: {},
        configuration: {},
      });
    // Fresh metadata from the provider over what the developer wrote (their keys stay).
    connection.metadata = { ...connection.metadata, ...(input.metadata ?? {}) };
    connection.configuration = input.configuration ?? connection.configuration ?? {};
    connection.endUserEmail = endUser.email ?? connection.endUserEmail ?? null;
    connection.endUserDisplayName = endUser.displayName ?? connection.endUserDisplayName ?? null;
    connection.providerOrgId = identity.orgId ?? null;
    connection.providerUsername = identity.username ?? null;
    connection.providerDisplayName = identity.displayName ?? null;
    connection.instanceUrl = tokens?.instanceUrl ?? null;
    // A pasted key carries whatever access it was made with: no scopes were granted here.
    connection.grantedScopes = !tokens
      ? []
      : tokens.scope
        ? scopeList(tokens.scope)
        : integration.scopes;
    connection.status = ConnectionStatus.Active;
    connection.accessTokenExpiresAt = input.accessTokenExpiresAt;
    connection.lastRefreshedAt = this.clock.now();
    connection.lastError = null;
    const credentials: ConnectionCredentials = {
      ...(input.extraCredentials ?? {}),
      ...(input.credentials ?? {}),
      ...(input.secretConfiguration && Object.keys(input.secretConfiguration).length
        ? { secretConfiguration: input.secretConfiguration }
        : {}),
      ...(tokens
        ? {
            accessToken: tokens.accessToken,
            // A reconnect that brings no refresh token keeps the one we had.
            refreshToken:
              tokens.refreshToken ??
              (existing ? this.credentialsOf(existing)?.refreshToken : undefined),
            idToken: tokens.idToken,
            tokenType: tokens.tokenType,
          }
        : {}),
      issuedAt: tokens?.issuedAt ?? this.clock.nowMs(),
      raw: tokens?.raw ?? {},
    };
    connection.credentialsEnc = this.encryptCredentials(connection.id, credentials);
    connection.credentialsVersion = (connection.credentialsVersion ?? 0) + 1;
    connection.nextRefreshAt = input.accessTokenExpiresAt
      ? this.scheduleFor(
          input.accessTokenExpiresAt,
          credentials.issuedAt,
          !!credentials.refreshToken || !!input.renewable,
        )
      : null;
    connection.refreshFailures = 0;
    connection.refreshLeaseOwner = null;
    connection.refreshLeaseExpiresAt = null;
    const statusBefore = existing?.status;
    const saved = await repo.save(connection);
    await this.events.record(manager, {
      type: existing ? 'connection.reconnected' : 'connection.created',
      workspaceId: connection.workspaceId,
      subject: { kind: 'connection', id: connection.id },
      actor: input.actor,
      data: {
        integrationId: integration.id,
        endUserId: endUser.id,
        providerAccountId: identity.userId,
        authMode: input.offering.authMode,
        ...(statusBefore ? { statusBefore } : {}),
      },
    });
    await this.changes.publish({ kind: 'connection', id: connection.id }, { manager });
    return saved;
  }

  encryptCredentials(connectionId: string, credentials: ConnectionCredentials) {
    return this.keyRing.encrypt(JSON.stringify(credentials), {
      ...CREDENTIALS_FIELD,
      rowId: connectionId,
    });
  }

  /** Decrypted credentials, for protocol steps and the designed handout only. */
  credentialsOf(connection: Connection): ConnectionCredentials | null {
    if (!connection.credentialsEnc) return null;
    return JSON.parse(
      this.keyRing.decrypt(connection.credentialsEnc, {
        ...CREDENTIALS_FIELD,
        rowId: connection.id,
      }),
    ) as ConnectionCredentials;
  }

  /** Connections of an integration that still hold credentials (anything not revoked). */
  withCredentials(integrationId: string): Promise<Connection[]> {
    return this.connections
      .createQueryBuilder('c')
      .where('c.integration_id = :integrationId AND c.credentials_enc IS NOT NULL', {
        integrationId,
      })
      .getMany();
  }
}

/** A connection's configuration for `{{key}}` placeholders: readable values and secret ones. */
export function configurationOf(
  connection: Connection,
  credentials: ConnectionCredentials | null,
): Record<string, string> {
  return { ...(connection.configuration ?? {}), ...(credentials?.secretConfiguration ?? {}) };
}

/**
 * Whether anything can renew the connection's access token: a refresh token, or (machine
 * connections) the client-credentials grant. Pasted keys, basic credentials and OAuth tokens
 * without refresh token cannot be renewed: they are used until they stop working.
 */
export function canRenew(offering: Offering, credentials: ConnectionCredentials | null): boolean {
  if (!credentials) return false;
  return (
    compiledTemplateOf(offering).authMode === 'oauth2_client_credentials' ||
    !!credentials.refreshToken
  );
}

/** Granted scopes as a list, whatever the provider's separator (space, or Slack's comma). */
export function scopeList(scope: string): string[] {
  return scope.split(/[\s,]+/).filter(Boolean);
}

/** The longest access-token lifetime Latchkey believes; a token said to live longer is refreshed by then. */
export const MAX_ACCESS_TOKEN_LIFETIME_MS = 365 * 24 * 60 * 60 * 1000;

/**
 * When the access token expires: expires_in, else the template's absolute expiry, else
 * introspection, else — when a refresh token came — issued_at + default lifetime. A token with
 * none of these and no refresh token never expires as far as Latchkey knows (null: nothing is
 * ever scheduled; an upstream 401 then means re-authorization). At most a year from now, so that
 * a provider's absurd value (1e20 seconds, an issued_at centuries away) is neither an invalid date
 * nor a token that is never refreshed.
 */
export function accessTokenExpiry(
  tokens: TokenSet,
  offering: Offering,
  introspected: Date | undefined,
  now: number,
  /** Whether the token can be renewed (a refresh token, stored or new; client credentials). */
  renewable = !!tokens.refreshToken,
): Date | null {
  if (
    tokens.expiresIn === undefined &&
    tokens.expiresAt === undefined &&
    !introspected &&
    !renewable
  )
    return null;
  const ms =
    tokens.expiresIn !== undefined
      ? now + tokens.expiresIn * 1000
      : tokens.expiresAt
        ? tokens.expiresAt.getTime()
        : introspected
          ? introspected.getTime()
          : tokens.issuedAt + offering.defaultAccessTokenTtlSeconds * 1000;
  return new Date(Number.isNaN(ms) ? now : Math.min(ms, now + MAX_ACCESS_TOKEN_LIFETIME_MS));
}
