import { compiledTemplateOf } from '../offerings/offering-template.js';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { isLoopbackHost, type AppConfig } from '../../config/config.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import { ConnectionRevoker } from '../connections/connection-revoker.service.js';
import { ConnectionsService } from '../connections/connections.service.js';
import { EventsService } from '../events/events.service.js';
import { allowedScopes, type Offering } from '../offerings/offering.entity.js';
import { OfferingsService } from '../offerings/offerings.service.js';
import { ProviderClient, type VerificationResult } from '../providers/provider-client.service.js';
import type { CreateIntegrationDto, UpdateIntegrationDto } from './dto/integration.dto.js';
import { CLIENT_SECRET_FIELD, Integration, IntegrationStatus } from './integration.entity.js';
import { clientSecretOf } from './client-credentials.js';
import { IntegrationError } from './integrations.errors.js';

@Injectable()
export class IntegrationsService {
  constructor(
    @InjectRepository(Integration) private readonly integrations: Repository<Integration>,
    private readonly offerings: OfferingsService,
    private readonly provider: ProviderClient,
    private readonly connections: ConnectionsService,
    private readonly revoker: ConnectionRevoker,
    private readonly changes: ChangeFeed,
    private readonly keyRing: KeyRing,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly events: EventsService,
  ) {}

  /** What the developer registers at the provider, byte for byte. */
  get callbackUrl(): string {
    return `${this.config.publicUrl}/oauth/callback`;
  }

  list(workspaceId: string): Promise<Integration[]> {
    return this.integrations.find({ where: { workspaceId }, order: { createdAt: 'ASC' } });
  }

  async get(workspaceId: string, id: string): Promise<Integration> {
    const found = await this.integrations.findOneBy({ id, workspaceId });
    if (!found) throw IntegrationError.notFound();
    return found;
  }

  /**
   * Creates the integration as a draft and verifies it when a secret was given. Always 201: a
   * rejected or unreachable verification leaves a draft that says why.
   */
  async create(workspaceId: string, input: CreateIntegrationDto): Promise<Integration> {
    const offering = await this.offerings.getUsable(input.offeringId);
    const scopes = input.scopes ?? offering.scopes.default;
    const allowedRedirectUris = input.allowedRedirectUris ?? [];
    this.validate(offering, { scopes, allowedRedirectUris });
    const kind = clientKindOf(offering);
    if (kind !== 'none' && !input.clientId)
      throw IntegrationError.invalid({ clientId: ['is required for this offering'] });
    const id = this.random.uuid();
    const integration = this.integrations.create({
      id,
      workspaceId,
      offeringId: offering.id,
      name: input.name,
      clientId: input.clientId ?? '',
      clientSecretEnc: input.clientSecret
        ? this.keyRing.encrypt(input.clientSecret, { ...CLIENT_SECRET_FIELD, rowId: id })
        : null,
      scopes,
      allowedRedirectUris,
      status: IntegrationStatus.Draft,
      verificationCheckedAt: null,
      verificationOutcome: null,
      verificationMessage: null,
    });
    // Verified before it is stored, so that it is created once, in the state it will have.
    const verification =
      kind === 'none'
        ? NOTHING_TO_VERIFY
        : input.clientSecret || kind === 'public'
          ? await this.check(offering, integration.clientId, input.clientSecret ?? '')
          : undefined;
    if (verification) this.setVerification(integration, verification);
    return this.persist(integration, {
      type: 'integration.created',
      data: { name: integration.name, offeringId: offering.id, status: integration.status },
    });
  }

  /**
   * Name, scopes and redirect URIs are saved as given. A new client ID of a configured
   * integration is verified first and refused (nothing changed) unless the provider accepts it;
   * changed credentials or scopes send the integration through verification again.
   */
  async update(workspaceId: string, id: string, input: UpdateIntegrationDto): Promise<Integration> {
    const integration = await this.get(workspaceId, id);
    const offering = await this.offerings.get(integration.offeringId);
    const scopes = input.scopes ?? integration.scopes;
    const allowedRedirectUris = input.allowedRedirectUris ?? integration.allowedRedirectUris;
    this.validate(offering, { scopes, allowedRedirectUris });

    const clientIdChanged = input.clientId !== undefined && input.clientId !== integration.clientId;
    const scopesChanged = input.scopes !== undefined && !sameSet(input.scopes, integration.scopes);
    const secret = this.secretOf(integration);
    let verification: VerificationResult | undefined;
    if (clientIdChanged && secret) {
      verification = await this.check(offering, input.clientId!, secret);
      if (integration.status === IntegrationStatus.Configured)
        this.refuseUnlessAccepted(verification);
    }
    const changed = [
      ...(input.name !== undefined && input.name !== integration.name ? ['name'] : []),
      ...(clientIdChanged ? ['clientId'] : []),
      ...(scopesChanged ? ['scopes'] : []),
      ...(!sameList(allowedRedirectUris, integration.allowedRedirectUris)
        ? ['allowedRedirectUris']
        : []),
    ];
    if (input.name !== undefined) integration.name = input.name;
    if (input.clientId !== undefined) integration.clientId = input.clientId;
    integration.scopes = scopes;
    integration.allowedRedirectUris = allowedRedirectUris;
    await this.persist(
      integration,
      changed.length ? { type: 'integration.updated', data: { changed } } : undefined,
    );
    if (!verification && (clientIdChanged || scopesChanged) && secret) {
      verification = await this.check(offering, integration.clientId, secret);
    }
    return verification ? this.applyVerification(integration, verification) : integration;
  }

  /** Verifies the new secret first; only an accepted secret replaces the old one. */
  async rotateSecret(workspaceId: string, id: string, clientSecret: string): Promise<Integration> {
    const integration = await this.get(workspaceId, id);
    const offering = await this.offerings.get(integration.offeringId);
    const verification = await this.check(offering, integration.clientId, clientSecret);
    this.refuseUnlessAccepted(verification);
    integration.clientSecretEnc = this.keyRing.encrypt(clientSecret, {
      ...CLIENT_SECRET_FIELD,
      rowId: integration.id,
    });
    this.setVerification(integration, verification);
    return this.persist(integration, { type: 'integration.secret_rotated' });
  }

  async verify(workspaceId: string, id: string): Promise<Integration> {
    const integration = await this.get(workspaceId, id);
    const secret = this.secretOf(integration);
    const offering = await this.offerings.get(integration.offeringId);
    const kind = clientKindOf(offering);
    if (kind === 'none') return this.applyVerification(integration, NOTHING_TO_VERIFY);
    if (!secret && kind === 'public')
      return this.applyVerification(
        integration,
        await this.check(offering, integration.clientId, ''),
      );
    if (!secret) {
      return this.applyVerification(integration, {
        outcome: 'rejected',
        message:
          'No client secret is stored yet: set one with PUT /api/v1/integrations/{id}/secret.',
      });
    }
    return this.applyVerification(
      integration,
      await this.check(offering, integration.clientId, secret),
    );
  }

  /**
   * Refused while connections still hold credentials, unless forced: then each is revoked at the
   * provider first. The connections go with the integration.
   */
  async delete(workspaceId: string, id: string, force: boolean): Promise<void> {
    const integration = await this.get(workspaceId, id);
    const holding = await this.connections.withCredentials(integration.id);
    if (holding.length > 0 && !force) throw IntegrationError.hasConnections(holding.length);
    for (const connection of holding) await this.revoker.revoke(connection);
    await this.integrations.manager.transaction(async (manager) => {
      const result = await manager
        .getRepository(Integration)
        .delete({ id: integration.id, workspaceId });
      if (result.affected === 1)
        await this.events.record(manager, {
          type: 'integration.deleted',
          workspaceId,
          subject: { kind: 'integration', id: integration.id },
          data: {
            name: integration.name,
            offeringId: integration.offeringId,
            revokedConnections: holding.length,
          },
        });
    });
    await this.changes.publish({ kind: 'integration', id: integration.id });
  }

  /** The stored client secret in plaintext, for protocol steps only. Never for a response. */
  secretOf(integration: Integration): string | null {
    return clientSecretOf(this.keyRing, integration);
  }

  private check(
    offering: Offering,
    clientId: string,
    clientSecret: string,
  ): Promise<VerificationResult> {
    return this.provider.verifyClient(offering, { clientId, clientSecret }, this.callbackUrl);
  }

  private refuseUnlessAccepted(verification: VerificationResult): void {
    if (verification.outcome === 'rejected')
      throw IntegrationError.credentialsRejected(verification.message);
    if (verification.outcome === 'unreachable')
      throw IntegrationError.providerUnreachable(verification.message);
  }

  /**
   * Records a verification. Accepted → configured; rejected → draft. An unreachable provider
   * leaves the status as it was: an outage must not take a working integration out of service.
   */
  private async applyVerification(
    integration: Integration,
    v: VerificationResult,
  ): Promise<Integration> {
    this.setVerification(integration, v);
    return this.persist(integration);
  }

  private setVerification(integration: Integration, v: VerificationResult): void {
    integration.verificationCheckedAt = this.clock.now();
    integration.verificationOutcome = v.outcome;
    integration.verificationMessage = v.message;
    if (v.outcome === 'accepted') integration.status = IntegrationStatus.Configured;
    if (v.outcome === 'rejected') integration.status = IntegrationStatus.Draft;
  }

  /**
   * Saves a changed integration with its event, and `integration.status_changed` when the stored
   * status differs (read under a row lock: two verifications at once record the change once).
   * Then tells every replica, whose caches may hold the old one.
   */
  private async persist(
    integration: Integration,
    event?: { type: string; data?: Record<string, unknown> },
  ): Promise<Integration> {
    const saved = await this.integrations.manager.transaction(async (manager) => {
      const [before]: Array<{ status: IntegrationStatus }> = await manager.query(
        'SELECT status FROM integrations WHERE id = $1 FOR UPDATE',
        [integration.id],
      );
      const row = await manager.getRepository(Integration).save(integration);
      const record = (type: string, data?: Record<string, unknown>) =>
        this.events.record(manager, {
          type,
          workspaceId: integration.workspaceId,
          subject: { kind: 'integration', id: integration.id },
          data,
        });
      if (event) await record(event.type, event.data);
      if (before && before.status !== integration.status)
        await record('integration.status_changed', {
          statusBefore: before.status,
          statusAfter: integration.status,
          verificationOutcome: integration.verificationOutcome,
        });
      return row;
    });
    await this.changes.publish({ kind: 'integration', id: integration.id });
    return saved;
  }

  private validate(
    offering: Offering,
    input: { scopes: string[]; allowedRedirectUris: string[] },
  ): void {
    const problems: Record<string, string[]> = {};
    const allowed = new Set(allowedScopes(offering));
    const missing = offering.scopes.required.filter((s) => !input.scopes.includes(s));
    if (missing.length)
      (problems.scopes ??= []).push(
        `must include the offering's required scopes (missing: ${missing.join(', ')})`,
      );
    const unknown = input.scopes.filter((s) => !allowed.has(s));
    if (unknown.length) {
      (problems.scopes ??= []).push(
        `may only contain the offering's scopes (${[...allowed].join(', ')}); not: ${unknown.join(', ')}`,
      );
    }
    input.allowedRedirectUris.forEach((uri, i) => {
      const p = redirectUriProblem(uri);
      if (p) (problems[`allowedRedirectUris[${i}]`] ??= []).push(p);
    });
    if (Object.keys(problems).length) throw IntegrationError.invalid(problems);
  }
}

const NOTHING_TO_VERIFY: VerificationResult = {
  outcome: 'accepted',
  message: 'Nothing to verify: end users give their own credentials (API key or account pair).',
};

/**
 * What client the offering's auth mode needs: `none` for pasted credentials (nothing to
 * register at the provider), `public` for a client without secret (PKCE), else `confidential`.
 */
function clientKindOf(offering: Offering): 'none' | 'public' | 'confidential' {
  const t = compiledTemplateOf(offering);
  if (t.authMode === 'bearer_token' || t.authMode === 'basic') return 'none';
  return t.tokenRequest.clientAuthentication === 'none' ? 'public' : 'confidential';
}

/** A developer app's redirect URI: absolute https, or http on loopback; no fragment or credentials. */
export function redirectUriProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.hash || value.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return null;
  return 'must use https (http only on localhost or 127.0.0.1)';
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => b[i] === x);
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
