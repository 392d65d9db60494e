import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import * as oidc from 'openid-client';
import { DataSource, LessThan, Repository } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { safeEqual, sha256Hex } from '../../common/crypto/secret-hash.js';
import { LOGGER } from '../../common/logging/logger.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { PROVIDER_IDENTITY_LENGTHS } from '../connections/connection.entity.js';
import { accessTokenExpiry, ConnectionsService } from '../connections/connections.service.js';
import { type Integration, IntegrationStatus } from '../integrations/integration.entity.js';
import { IntegrationsService } from '../integrations/integrations.service.js';
import { type Offering, PkceMode } from '../offerings/offering.entity.js';
import { compiledTemplateOf } from '../offerings/offering-template.js';
import { OfferingsService } from '../offerings/offerings.service.js';
import {
  type ProviderIdentity,
  ProviderClient,
  ProviderError,
  type TokenSet,
} from '../providers/provider-client.service.js';
import {
  ConnectSession,
  ConnectSessionStatus,
  SESSION_SECRETS_FIELD,
} from './connect-session.entity.js';
import { placeholderValues } from '../providers/templates/index.js';
import { checkInputs } from '../providers/templates/inputs.js';
import type { TemplateInput } from '../providers/templates/template.schema.js';
import { templateOf } from '../offerings/offering-template.js';
import { assertLinkUsable, flowOutcome, type FlowOutcome } from './connect-outcome.js';
import { FlowInputsError, FlowPageError } from './connect.errors.js';
import { RESULT_CODE_TTL_MS } from './connect-sessions.service.js';
import { CODE_VERIFIER_FIELD, type DisplayMode, OAuthFlow } from './oauth-flow.entity.js';

export const FLOW_TTL_MS = 10 * 60 * 1000;

/** The browser-binding cookie's name for a flow (several flows may run in one browser). */
export function flowCookieName(stateHash: string): string {
  return `lk_flow_${stateHash.slice(0, 16)}`;
}

export interface SessionConfiguration {
  readable: Record<string, string>;
  secret: Record<string, string>;
  all: Record<string, string>;
}

export interface ConnectPage {
  session: ConnectSession;
  integration: Integration;
  offering: Offering;
  /** connectionConfig inputs the developer did not fix: the end user fills them in. */
  inputs: TemplateInput[];
}

@Injectable()
export class ConnectFlowService {
  constructor(
    @InjectRepository(ConnectSession) private readonly sessions: Repository<ConnectSession>,
    @InjectRepository(OAuthFlow) private readonly flows: Repository<OAuthFlow>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly integrations: IntegrationsService,
    private readonly offerings: OfferingsService,
    private readonly connections: ConnectionsService,
    private readonly provider: ProviderClient,
    private readonly keyRing: KeyRing,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The session behind a connect link, if it may still start. */
  async open(token: string): Promise<ConnectPage> {
    const session =
      token.length <= 128 ? await this.sessions.findOneBy({ tokenHash: sha256Hex(token) }) : null;
    assertLinkUsable(session, this.clock.nowMs());
    try {
      const { integration, offering } = await this.usable(session);
      const fixed = this.configurationOf(session).all;
      const inputs = (templateOf(offering).connectionConfig ?? []).filter(
        (input) => !Object.hasOwn(fixed, input.key),
      );
      return { session, integration, offering, inputs };
    } catch (error) {
      if (error instanceof ProviderError)
        throw new FlowPageError(409, 'Not available', error.message);
      throw error;
    }
  }

  /**
   * Spends the connect link and sends the browser to the provider: fresh state (stored hashed,
   * bound to this browser by a cookie), PKCE S256, the integration's scopes, the exact callback.
   * `typed` are the start form's values of the configuration inputs the developer left open
   * (by input key; values for inputs the developer fixed are ignored): checked before anything
   * else, so a refused value spends nothing and stores nothing.
   */
  async start(
    token: string,
    display: DisplayMode,
    typed: Record<string, unknown> = {},
  ): Promise<{ location: string; cookie: { name: string; value: string; maxAgeMs: number } }> {
    const page = await this.open(token);
    const { session, integration, offering } = page;
    if (compiledTemplateOf(offering).authMode !== 'oauth2')
      throw new FlowPageError(
        409,
        'Not available',
        'This connection is not made by signing in at the provider. Go back to the connect page.',
      );
    const fixed = this.configurationOf(session);
    const checked = checkInputs(
      page.inputs,
      Object.fromEntries(page.inputs.map((input) => [input.key, typed[input.key]])),
    );
    if (checked.problems.length || checked.missing.length) {
      const errors: Record<string, string> = {};
      for (const key of checked.missing) errors[key] = 'is required';
      for (const problem of checked.problems) errors[problem.key] = problem.message;
      throw new FlowInputsError(page, checked.readable, errors);
    }
    const configuration: SessionConfiguration = {
      readable: { ...fixed.readable, ...checked.readable },
      secret: { ...fixed.secret, ...checked.secret },
      all: {},
    };
    configuration.all = { ...configuration.readable, ...configuration.secret };
    const spent = await this.sessions.update(
      { id: session.id, status: ConnectSessionStatus.Pending },
      {
        status: ConnectSessionStatus.Started,
        ...(page.inputs.length
          ? {
              configuration: configuration.readable,
              configurationSecretsEnc: Object.keys(configuration.secret).length
                ? this.keyRing.encrypt(JSON.stringify(configuration.secret), {
                    ...SESSION_SECRETS_FIELD,
                    rowId: session.id,
                  })
                : null,
            }
          : {}),
      },
    );
    if (spent.affected !== 1) {
      throw new FlowPageError(
        410,
        'Link already used',
        'This connect link has already been used. Ask the app you came from for a new one.',
      );
    }
    const state = this.random.token(32);
    const binding = this.random.token(32);
    const stateHash = sha256Hex(state);
    const flowId = this.random.uuid();
    const verifier = offering.pkce === PkceMode.S256 ? oidc.randomPKCECodeVerifier() : undefined;
    await this.flows.insert({
      id: flowId,
      stateHash,
      connectSessionId: session.id,
      browserBindingHash: sha256Hex(binding),
      codeVerifierEnc: verifier
        ? this.keyRing.encrypt(verifier, { ...CODE_VERIFIER_FIELD, rowId: flowId })
        : null,
      offeringId: offering.id,
      issuer: this.issuerOf(offering),
      displayMode: display,
      expiresAt: new Date(this.clock.nowMs() + FLOW_TTL_MS),
      usedAt: null,
    });
    await this.flows.delete({
      expiresAt: LessThan(new Date(this.clock.nowMs() - 24 * 60 * 60 * 1000)),
    });
    const location = this.provider.authorizationUrl(offering, integration.clientId, {
      redirectUri: this.integrations.callbackUrl,
      scopes: integration.scopes,
      state,
      codeChallenge: verifier ? await oidc.calculatePKCECodeChallenge(verifier) : undefined,
      configuration: configuration.all,
    });
    return {
      location,
      cookie: { name: flowCookieName(stateHash), value: binding, maxAgeMs: FLOW_TTL_MS },
    };
  }

  /**
   * The provider's redirect. State problems (unknown, expired, replayed, other browser) end on an
   * error page and change nothing. Past that, the flow completes or fails, and either way the
   * result goes back to the developer as the session asked.
   */
  async callback(
    query: Record<string, unknown>,
    cookies: Record<string, string>,
  ): Promise<FlowOutcome> {
    const param = (k: string) => (typeof query[k] === 'string' ? (query[k] as string) : undefined);
    const state = param('state');
    if (!state)
      throw new FlowPageError(
        400,
        'Sign-in failed',
        'The provider sent no state: this request did not come from a sign-in Latchkey started.',
      );
    const stateHash = sha256Hex(state);
    const flow = state.length <= 256 ? await this.flows.findOneBy({ stateHash }) : null;
    if (!flow)
      throw new FlowPageError(
        400,
        'Sign-in failed',
        'This sign-in is unknown or has expired. Start again from the app.',
      );
    if (flow.usedAt)
      throw new FlowPageError(
        400,
        'Sign-in already completed',
        'This sign-in response was already used. Start again from the app.',
      );
    if (flow.expiresAt.getTime() <= this.clock.nowMs())
      throw new FlowPageError(
        400,
        'Sign-in expired',
        'This sign-in took too long and has expired. Start again from the app.',
      );
    const binding = cookies[flowCookieName(stateHash)];
    if (!binding || !safeEqual(sha256Hex(binding), flow.browserBindingHash)) {
      throw new FlowPageError(
        400,
        'Sign-in failed',
        'This sign-in was started in another browser (or its cookie was lost). Start again from the app in this browser.',
      );
    }
    const claimed = await this.flows
      .createQueryBuilder()
      .update()
      .set({ usedAt: this.clock.now() })
      .where('id = :id AND used_at IS NULL', { id: flow.id })
      .execute();
    if (claimed.affected !== 1)
      throw new FlowPageError(
        400,
        'Sign-in already completed',
        'This sign-in response was already used. Start again from the app.',
      );

    const session = await this.sessions.findOneByOrFail({ id: flow.connectSessionId });
    try {
      const iss = param('iss');
      if (iss !== undefined && iss !== flow.issuer) {
        throw new ProviderError(
          'connect.issuer_mismatch',
          'The response came from a different authorization server than the one this sign-in was sent to.',
          'invalid_issuer',
        );
      }
      const error = param('error');
      if (error) {
        const description = param('error_description');
        throw new ProviderError(
          'connect.provider_error',
          `The provider ended the sign-in: ${error}${description ? ` (${description.slice(0, 200)})` : ''}.`,
          error.slice(0, 64),
        );
      }
      if (!param('code'))
        throw new ProviderError(
          'connect.provider_error',
          'The provider sent neither a code nor an error.',
          'invalid_request',
        );

      const { integration, offering } = await this.usable(session);
      if (offering.id !== flow.offeringId)
        throw new ProviderError(
          'connect.issuer_mismatch',
          'The integration changed provider during sign-in.',
          'invalid_issuer',
        );
      if (iss === undefined && (await this.provider.issParameterRequired(offering))) {
        throw new ProviderError(
          'connect.issuer_mismatch',
          'The response names no issuer although this provider says it always does (RFC 9207).',
          'invalid_issuer',
        );
      }
      const secret = this.integrations.secretOf(integration)!;
      const client = { clientId: integration.clientId, clientSecret: secret };
      const verifier = flow.codeVerifierEnc
        ? this.keyRing.decrypt(flow.codeVerifierEnc, { ...CODE_VERIFIER_FIELD, rowId: flow.id })
        : undefined;
      const configuration = this.configurationOf(session);

      const fromCallback = callbackMetadata(offering, query);
      const tokens = await this.provider.exchangeCode(offering, client, {
        code: param('code')!,
        redirectUri: this.integrations.callbackUrl,
        codeVerifier: verifier,
        configuration: configuration.all,
      });
      tokens.metadata = { ...fromCallback, ...tokens.metadata };
      const account = await this.accountOf(offering, integration, session, tokens, configuration);
      const identity = storableIdentity(account.identity, tokens);
      const introspected =
        tokens.expiresIn === undefined && tokens.expiresAt === undefined
          ? await this.provider.introspectExpiry(
              offering,
              client,
              tokens.accessToken,
              configuration.all,
            )
          : undefined;
      const expiresAt = accessTokenExpiry(tokens, offering, introspected, this.clock.nowMs());

      const resultCode =
        session.redirectUri && flow.displayMode === 'redirect' ? this.random.token(32) : undefined;
      const connection = await this.dataSource.transaction(async (manager) => {
        const stored = await this.connections.upsertFromAuthorization(manager, {
          integration,
          offering,
          endUser: {
            id: session.endUserId,
            email: session.endUserEmail,
            displayName: session.endUserDisplayName,
          },
          identity,
          tokens,
          accessTokenExpiresAt: expiresAt,
          metadata: account.metadata,
          extraCredentials: { ...tokens.credentials, ...account.credentials },
          configuration: configuration.readable,
          secretConfiguration: configuration.secret,
          // The end user completed the flow on our pages: they are who connected.
          actor: { kind: 'end_user', id: session.endUserId },
        });
        await manager.getRepository(ConnectSession).update(
          { id: session.id },
          {
            status: ConnectSessionStatus.Completed,
            connectionId: stored.id,
            resultCodeHash: resultCode ? sha256Hex(resultCode) : null,
            resultCodeExpiresAt: resultCode
              ? new Date(this.clock.nowMs() + RESULT_CODE_TTL_MS)
              : null,
          },
        );
        return stored;
      });
      this.logger.info(
        { connectionId: connection.id, integrationId: integration.id, sessionId: session.id },
        'connection authorized',
      );
      return flowOutcome(session, flow.displayMode, { connectionId: connection.id, resultCode });
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      const code =
        error.providerError && /^[a-z_]{1,64}$/.test(error.providerError)
          ? error.providerError
          : error.code.replace(/^connect\./, '');
      await this.sessions.update(
        { id: session.id },
        { status: ConnectSessionStatus.Failed, error: code },
      );
      this.logger.warn({ sessionId: session.id, error: code }, 'connect flow failed');
      return flowOutcome(session, flow.displayMode, { error: code, description: error.message });
    }
  }

  private async usable(
    session: ConnectSession,
  ): Promise<{ integration: Integration; offering: Offering }> {
    let integration: Integration;
    try {
      integration = await this.integrations.get(session.workspaceId, session.integrationId);
    } catch {
      throw new ProviderError(
        'connect.integration_unavailable',
        'This integration no longer exists.',
        'integration_unavailable',
      );
    }
    const offering = await this.offerings.get(integration.offeringId);
    // Only the authorization-code flow needs the integration's client (pasted keys do not).
    const needsClient = compiledTemplateOf(offering).authMode === 'oauth2';
    if ((needsClient && integration.status !== IntegrationStatus.Configured) || !offering.enabled) {
      throw new ProviderError(
        'connect.integration_unavailable',
        `${integration.name} cannot accept new connections right now (${!offering.enabled ? 'its provider is disabled' : 'it is not configured'}).`,
        'integration_unavailable',
      );
    }
    return { integration, offering };
  }

  /**
   * Who connected and what the template adds: identity and metadata (token response, userDetails,
   * Salesforce's id URL, userinfo or the ID token), then the registration requests. Nothing is
   * stored until all of it succeeded.
   */
  private async accountOf(
    offering: Offering,
    integration: Integration,
    session: ConnectSession,
    tokens: TokenSet,
    configuration: SessionConfiguration,
  ): Promise<{
    identity: ProviderIdentity;
    metadata: Record<string, string>;
    credentials: Record<string, string>;
  }> {
    const credentials = {
      ...tokens.credentials,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      idToken: tokens.idToken,
      tokenType: tokens.tokenType,
    };
    const system = {
      client_id: integration.clientId,
      end_user_id: session.endUserId,
      instance_url: tokens.instanceUrl,
    };
    const { identity, metadata, instanceUrl } = await this.provider.identity(
      offering,
      tokens,
      placeholderValues({
        credentials,
        metadata: tokens.metadata,
        configuration: configuration.all,
        system,
      }),
    );
    // userDetails may name the API origin (DocuSign's base_uri): it is the connection's then.
    if (instanceUrl) tokens.instanceUrl = instanceUrl;
    system.instance_url = tokens.instanceUrl;
    const before = { ...tokens.metadata, ...metadata };
    const registered = await this.provider.registration(offering, {
      credentials,
      metadata: before,
      configuration: configuration.all,
      system,
    });
    return {
      identity,
      metadata: { ...before, ...registered.metadata },
      credentials: registered.credentials,
    };
  }

  /** The session's configuration: readable values, secret ones (decrypted) and both together. */
  configurationOf(session: ConnectSession): SessionConfiguration {
    const secret = session.configurationSecretsEnc
      ? (JSON.parse(
          this.keyRing.decrypt(session.configurationSecretsEnc, {
            ...SESSION_SECRETS_FIELD,
            rowId: session.id,
          }),
        ) as Record<string, string>)
      : {};
    const readable = session.configuration ?? {};
    return { readable, secret, all: { ...readable, ...secret } };
  }

  private issuerOf(offering: Offering): string {
    return offering.issuer ?? new URL(offering.authorizationUrl!).origin;
  }
}

/**
 * The template's callbackParams (QuickBooks' realmId): each required on the provider's redirect,
 * a short printable value, kept as metadata.
 */
function callbackMetadata(
  offering: Offering,
  query: Record<string, unknown>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, param] of Object.entries(
    compiledTemplateOf(offering).template.callbackParams ?? {},
  )) {
    const value = query[param];
    if (typeof value !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(value))
      throw new ProviderError(
        'connect.provider_error',
        `The provider's redirect lacks a usable ${param} parameter.`,
        'invalid_request',
      );
    out[key] = value;
  }
  return out;
}

/**
 * The identity as the connection stores it. Identifiers longer than their columns are refused
 * (cutting one could merge two accounts); a long display name is only shortened. PostgreSQL text
 * cannot hold NUL, so a stored provider value that has one is refused too.
 */
function storableIdentity(identity: ProviderIdentity, tokens: TokenSet): ProviderIdentity {
  const stored = { ...identity, scope: tokens.scope, instanceUrl: tokens.instanceUrl };
  for (const [field, value] of Object.entries(stored)) {
    if (value?.includes('\u0000')) {
      throw new ProviderError(
        'connect.provider_error',
        `The provider sent a ${field} with a NUL character, which Latchkey cannot store.`,
      );
    }
  }
  const length = (s: string | undefined) => (s === undefined ? 0 : [...s].length);
  for (const field of ['userId', 'orgId', 'username'] as const) {
    if (length(identity[field]) > PROVIDER_IDENTITY_LENGTHS[field]) {
      throw new ProviderError(
        'connect.provider_error',
        `The provider sent an account ${field} longer than ${PROVIDER_IDENTITY_LENGTHS[field]} characters, which Latchkey cannot store.`,
      );
    }
  }
  const { displayName } = identity;
  if (displayName === undefined || length(displayName) <= PROVIDER_IDENTITY_LENGTHS.displayName)
    return identity;
  return {
    ...identity,
    displayName: [...displayName].slice(0, PROVIDER_IDENTITY_LENGTHS.displayName).join(''),
  };
}
