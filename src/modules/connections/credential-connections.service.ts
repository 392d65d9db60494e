import type { Actor } from '../../common/request-context.js';
import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource, type EntityManager, Repository } from 'typeorm';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { DomainError } from '../../common/errors/domain-error.js';
import { LOGGER } from '../../common/logging/logger.js';
import { Clock } from '../../common/time/clock.js';
import { clientCredentialsOf } from '../integrations/client-credentials.js';
import { Integration, IntegrationStatus } from '../integrations/integration.entity.js';
import { IntegrationError } from '../integrations/integrations.errors.js';
import { compiledTemplateOf } from '../offerings/offering-template.js';
import type { Offering } from '../offerings/offering.entity.js';
import { OfferingsService } from '../offerings/offerings.service.js';
import {
  describeFailure,
  ProviderClient,
  ProviderError,
  type ProviderIdentity,
  type TokenSet,
} from '../providers/provider-client.service.js';
import {
  checkInputs,
  type CompiledTemplate,
  placeholderValues,
} from '../providers/templates/index.js';
import { type Connection, PROVIDER_IDENTITY_LENGTHS } from './connection.entity.js';
import { ConnectionError } from './connections.errors.js';
import { accessTokenExpiry, ConnectionsService, type EndUser } from './connections.service.js';
import type { CreateConnectionDto } from './dto/create-connection.dto.js';

/** A connection's configuration: readable values, secret ones, and both for `{{key}}`. */
export interface CheckedConfiguration {
  readable: Record<string, string>;
  secret: Record<string, string>;
  all: Record<string, string>;
}

export interface PastedCredentialsInput {
  integration: Integration;
  offering: Offering;
  endUser: EndUser;
  /** The values as given (checked here against the offering's credential fields). */
  credentials: unknown;
  configuration: CheckedConfiguration;
  /** The developer's metadata; the provider's (userDetails, registration) wins on a key. */
  metadata?: Record<string, unknown>;
  /** Who connected, when not the request's caller (the end user on the credentials page). */
  actor?: Actor;
  /** Runs in the transaction that stores the connection (e.g. completing a connect session). */
  within?: (manager: EntityManager, connection: Connection) => Promise<void>;
}

/** Metadata a developer may write on import: a small JSON object. */
export const MAX_METADATA_BYTES = 16 * 1024;

/** Fields of an OAuth token import, as POST /api/v1/connections takes them. */
const TOKEN_IMPORT_KEYS = ['accessToken', 'refreshToken', 'expiresAt', 'expiresIn', 'instanceUrl'];

/**
 * Connections made from credentials instead of an authorization redirect: keys pasted on the
 * connect page or imported (bearer_token, basic), imported OAuth tokens, and machine connections
 * (oauth2_client_credentials). Every credential is checked at the provider before anything is
 * stored, and stored through the one writer, ConnectionsService.upsertFromAuthorization.
 */
@Injectable()
export class CredentialConnections {
  constructor(
    @InjectRepository(Integration) private readonly integrations: Repository<Integration>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly offerings: OfferingsService,
    private readonly connections: ConnectionsService,
    private readonly provider: ProviderClient,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** POST /api/v1/connections: whatever the integration's auth mode takes. */
  async create(workspaceId: string, input: CreateConnectionDto): Promise<Connection> {
    const integration = await this.integrations.findOneBy({ id: input.integrationId, workspaceId });
    if (!integration) throw IntegrationError.notFound();
    const offering = await this.offerings.getUsable(integration.offeringId);
    const configuration = checkConfiguration(offering, input.configuration);
    const metadata = checkMetadata(input.metadata);
    const endUser = input.endUser;
    const mode = compiledTemplateOf(offering).authMode;
    switch (mode) {
      case 'bearer_token':
      case 'basic':
        return this.connectPasted({
          integration,
          offering,
          endUser,
          credentials: input.credentials,
          configuration,
          metadata,
        });
      case 'oauth2':
        return this.importTokens(integration, offering, endUser, input.credentials, {
          configuration,
          metadata,
        });
      case 'oauth2_client_credentials':
        return this.machine(integration, offering, endUser, input.credentials, {
          configuration,
          metadata,
        });
    }
  }

  /**
   * Pasted credentials (bearer_token, basic): every credential field is required; the
   * template's userDetails request verifies them before anything is stored. Without userDetails
   * they are stored unverified, under an account id that does not reveal them.
   */
  async connectPasted(input: PastedCredentialsInput): Promise<Connection> {
    const { integration, offering, endUser, configuration } = input;
    const t = compiledTemplateOf(offering);
    const checked = checkInputs(t.credentialFields, input.credentials);
    const problems = [
      ...checked.problems.map((p) => ({ field: `credentials.${p.key}`, message: p.message })),
      ...checked.missing.map((k) => ({ field: `credentials.${k}`, message: 'is required' })),
    ];
    if (problems.length) throw ConnectionError.invalidInput(problems);
    const pasted = { ...checked.readable, ...checked.secret };
    const secrets = Object.values(checked.secret);
    const system = { end_user_id: endUser.id };

    let identity: ProviderIdentity;
    let providerMetadata: Record<string, string> = {};
    if (t.userDetails) {
      const details = await verified(secrets, () =>
        this.provider.userDetails(
          offering,
          placeholderValues({ credentials: pasted, configuration: configuration.all, system }),
        ),
      );
      identity = details.identity!;
      providerMetadata = details.metadata;
    } else {
      identity = { userId: unverifiedAccountId(t, checked.readable, pasted) };
    }
    const registered = await verified(secrets, () =>
      this.provider.registration(offering, {
        credentials: pasted,
        metadata: providerMetadata,
        configuration: configuration.all,
        system,
      }),
    );
    return this.store(input.within, {
      integration,
      offering,
      endUser,
      identity: storable(identity),
      credentials: pasted,
      accessTokenExpiresAt: null,
      metadata: { ...input.metadata, ...providerMetadata, ...registered.metadata },
      extraCredentials: registered.credentials,
      configuration: configuration.readable,
      secretConfiguration: configuration.secret,
      actor: input.actor,
    });
  }

  /**
   * Existing OAuth tokens (a team moving from another broker): verified by the offering's
   * identity step (userDetails or userinfo), then stored and scheduled like a fresh authorization.
   */
  private async importTokens(
    integration: Integration,
    offering: Offering,
    endUser: EndUser,
    given: unknown,
    extra: { configuration: CheckedConfiguration; metadata?: Record<string, unknown> },
  ): Promise<Connection> {
    this.assertConfigured(integration);
    const t = compiledTemplateOf(offering);
    const tokens = tokenImport(given, this.clock.nowMs());
    if (!t.userDetails && !t.userinfoUrl) throw ConnectionError.importUnverifiable();
    if (tokens.instanceUrl) {
      try {
        this.provider.assertApiUrlAllowed(offering, tokens.instanceUrl, 'instanceUrl');
      } catch {
        throw ConnectionError.invalidInput([
          { field: 'credentials.instanceUrl', message: 'is not a host this offering allows' },
        ]);
      }
    }
    const secrets = [tokens.accessToken, tokens.refreshToken ?? ''];
    const credentials = {
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      tokenType: tokens.tokenType,
    };
    const system = {
      client_id: integration.clientId,
      end_user_id: endUser.id,
      instance_url: tokens.instanceUrl,
    };
    const values = placeholderValues({
      credentials,
      configuration: extra.configuration.all,
      system,
    });
    const account = await verified(secrets, () => this.provider.identity(offering, tokens, values));
    const registered = await verified(secrets, () =>
      this.provider.registration(offering, {
        credentials,
        metadata: account.metadata,
        configuration: extra.configuration.all,
        system,
      }),
    );
    return this.store(undefined, {
      integration,
      offering,
      endUser,
      identity: storable(account.identity),
      tokens,
      accessTokenExpiresAt: accessTokenExpiry(tokens, offering, undefined, this.clock.nowMs()),
      metadata: { ...extra.metadata, ...account.metadata, ...registered.metadata },
      extraCredentials: registered.credentials,
      configuration: extra.configuration.readable,
      secretConfiguration: extra.configuration.secret,
    });
  }

  /**
   * A machine connection: the integration's own client gets a token by the client-credentials
   * grant with the integration's scopes; the scheduler renews it the same way before it expires.
   * The account is the client itself (or what userDetails says, when the offering has it).
   */
  private async machine(
    integration: Integration,
    offering: Offering,
    endUser: EndUser,
    given: unknown,
    extra: { configuration: CheckedConfiguration; metadata?: Record<string, unknown> },
  ): Promise<Connection> {
    if (given !== undefined && (typeof given !== 'object' || Object.keys(given ?? {}).length))
      throw ConnectionError.invalidInput([
        {
          field: 'credentials',
          message: 'must be absent: a machine connection uses the integration’s own client',
        },
      ]);
    this.assertConfigured(integration);
    const client = clientCredentialsOf(this.keyRing, integration);
    const tokens = await this.provider.clientCredentials(
      offering,
      client,
      integration.scopes,
      extra.configuration.all,
    );
    const t = compiledTemplateOf(offering);
    let identity: ProviderIdentity = { userId: integration.clientId };
    let metadata: Record<string, string> = {};
    if (t.userDetails) {
      const account = await verified([tokens.accessToken], () =>
        this.provider.identity(
          offering,
          tokens,
          placeholderValues({
            credentials: { accessToken: tokens.accessToken, tokenType: tokens.tokenType },
            configuration: extra.configuration.all,
            system: { client_id: integration.clientId, end_user_id: endUser.id },
          }),
        ),
      );
      identity = account.identity;
      metadata = account.metadata;
    }
    return this.store(undefined, {
      integration,
      offering,
      endUser,
      identity: storable(identity),
      tokens,
      accessTokenExpiresAt: accessTokenExpiry(
        tokens,
        offering,
        undefined,
        this.clock.nowMs(),
        true,
      ),
      metadata: { ...extra.metadata, ...metadata },
      configuration: extra.configuration.readable,
      secretConfiguration: extra.configuration.secret,
      renewable: true,
    });
  }

  private assertConfigured(integration: Integration): void {
    if (integration.status !== IntegrationStatus.Configured)
      throw new DomainError(
        'integration.not_configured',
        'conflict',
        'This integration is not configured (its credentials are missing or were not accepted by the provider).',
      );
  }

  private async store(
    within: PastedCredentialsInput['within'],
    input: Parameters<ConnectionsService['upsertFromAuthorization']>[1],
  ): Promise<Connection> {
    const connection = await this.dataSource.transaction(async (manager) => {
      const stored = await this.connections.upsertFromAuthorization(manager, input);
      await within?.(manager, stored);
      return stored;
    });
    this.logger.info(
      {
        connectionId: connection.id,
        integrationId: input.integration.id,
        authMode: input.offering.authMode,
      },
      'connection stored from credentials',
    );
    return connection;
  }
}

/**
 * Configuration values for the offering's connectionConfig inputs: the developer's `fixed` ones
 * win over `given` (the end user's on the connect page); every declared input needs a value.
 */
export function checkConfiguration(
  offering: Offering,
  given: unknown,
  fixed: { readable: Record<string, string>; secret: Record<string, string> } = {
    readable: {},
    secret: {},
  },
): CheckedConfiguration {
  const fields = compiledTemplateOf(offering).template.connectionConfig ?? [];
  const open = fields.filter((f) => !(f.key in fixed.readable) && !(f.key in fixed.secret));
  const checked = checkInputs(open, given);
  const problems = [
    ...checked.problems.map((p) => ({ field: `configuration.${p.key}`, message: p.message })),
    ...checked.missing.map((k) => ({ field: `configuration.${k}`, message: 'is required' })),
  ];
  if (problems.length) throw ConnectionError.invalidInput(problems);
  const readable = { ...checked.readable, ...fixed.readable };
  const secret = { ...checked.secret, ...fixed.secret };
  return { readable, secret, all: { ...readable, ...secret } };
}

function checkMetadata(metadata: unknown): Record<string, unknown> | undefined {
  if (metadata === undefined || metadata === null) return undefined;
  if (typeof metadata !== 'object' || Array.isArray(metadata))
    throw ConnectionError.invalidInput([{ field: 'metadata', message: 'must be an object' }]);
  if (Buffer.byteLength(JSON.stringify(metadata)) > MAX_METADATA_BYTES)
    throw ConnectionError.invalidInput([
      { field: 'metadata', message: `must be at most ${MAX_METADATA_BYTES} bytes of JSON` },
    ]);
  return metadata as Record<string, unknown>;
}

/** `credentials` of an OAuth token import, checked field by field, as a token set. */
function tokenImport(given: unknown, now: number): TokenSet {
  const problems: Array<{ field: string; message: string }> = [];
  const c =
    given && typeof given === 'object' && !Array.isArray(given)
      ? (given as Record<string, unknown>)
      : {};
  if (c !== given) problems.push({ field: 'credentials', message: 'must be an object' });
  for (const key of Object.keys(c))
    if (!TOKEN_IMPORT_KEYS.includes(key))
      problems.push({ field: `credentials.${key}`, message: 'is not a token import field' });
  const token = (key: string, required: boolean) => {
    const v = c[key];
    if (v === undefined) {
      if (required) problems.push({ field: `credentials.${key}`, message: 'is required' });
      return undefined;
    }
    // eslint-disable-next-line no-control-regex
    if (typeof v !== 'string' || !v || v.length > 8192 || /[\u0000-\u0020\u007f]/.test(v)) {
      problems.push({ field: `credentials.${key}`, message: 'must be a token string' });
      return undefined;
    }
    return v;
  };
  const accessToken = token('accessToken', true);
  const refreshToken = token('refreshToken', false);
  let expiresIn: number | undefined;
  let expiresAt: Date | undefined;
  if (c.expiresIn !== undefined && c.expiresAt !== undefined)
    problems.push({ field: 'credentials.expiresAt', message: 'cannot be given with expiresIn' });
  if (c.expiresIn !== undefined) {
    if (typeof c.expiresIn === 'number' && Number.isInteger(c.expiresIn) && c.expiresIn > 0)
      expiresIn = c.expiresIn;
    else problems.push({ field: 'credentials.expiresIn', message: 'must be a positive integer' });
  }
  if (c.expiresAt !== undefined) {
    const ms = typeof c.expiresAt === 'string' ? Date.parse(c.expiresAt) : NaN;
    if (Number.isFinite(ms)) expiresAt = new Date(ms);
    else problems.push({ field: 'credentials.expiresAt', message: 'must be an ISO 8601 time' });
  }
  let instanceUrl: string | undefined;
  if (c.instanceUrl !== undefined) {
    if (typeof c.instanceUrl === 'string' && URL.canParse(c.instanceUrl))
      instanceUrl = new URL(c.instanceUrl).origin;
    else problems.push({ field: 'credentials.instanceUrl', message: 'must be a URL' });
  }
  if (problems.length) throw ConnectionError.invalidInput(problems);
  return {
    accessToken: accessToken!,
    refreshToken,
    tokenType: 'Bearer',
    expiresIn,
    expiresAt,
    issuedAt: now,
    instanceUrl,
    metadata: {},
    raw: {},
  };
}

/**
 * Runs a verification step at the provider. Its refusal becomes 422 with the provider's status
 * and short reason, an outage 502; either way nothing has been stored. The given secrets are
 * taken out of the reason (a provider may echo what it was sent).
 */
async function verified<T>(secrets: string[], step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof DomainError && !(error instanceof ProviderError)) throw error;
    const f = describeFailure(error);
    let reason = f.summary;
    for (const s of secrets) if (s.length >= 4) reason = reason.split(s).join('…');
    if (f.kind === 'unreachable') throw ConnectionError.providerUnreachable(reason);
    throw ConnectionError.credentialsRejected(f.status ?? null, reason);
  }
}

/**
 * The account id of credentials no request could verify: the non-secret fields' values (e.g. a
 * basic username), else a short SHA-256 fingerprint of the secret ones, which names the key
 * without revealing it. The same credentials give the same connection.
 */
function unverifiedAccountId(
  t: CompiledTemplate,
  readable: Record<string, string>,
  pasted: Record<string, string>,
): string {
  const shown = t.credentialFields.filter((f) => readable[f.key] !== undefined);
  if (shown.length) return shown.map((f) => readable[f.key]).join(':');
  const canonical = JSON.stringify(t.credentialFields.map((f) => pasted[f.key] ?? null));
  return `key-${createHash('sha256').update(canonical).digest('hex').slice(0, 16)}`;
}

/** Identity values must fit their columns (a cut id could merge two accounts) and hold no NUL. */
function storable(identity: ProviderIdentity): ProviderIdentity {
  for (const field of ['userId', 'orgId', 'username'] as const) {
    const v = identity[field];
    if (v !== undefined && ([...v].length > PROVIDER_IDENTITY_LENGTHS[field] || v.includes('\0')))
      throw ConnectionError.credentialsRejected(
        null,
        `the provider sent an account ${field} Latchkey cannot store`,
      );
  }
  const name = identity.displayName;
  return name === undefined
    ? identity
    : {
        ...identity,
        displayName: [...name.replace(/\0/g, '')]
          .slice(0, PROVIDER_IDENTITY_LENGTHS.displayName)
          .join(''),
      };
}
