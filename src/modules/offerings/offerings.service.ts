import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import {
  hostMatches,
  hostPatternProblem,
  providerUrlProblem,
} from '../../common/http/url-policy.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { RandomSource } from '../../common/random.js';
import type { AppConfig } from '../../config/config.js';
import type { CreateOfferingDto, UpdateOfferingDto } from './dto/offering.dto.js';
import {
  AuthMode,
  Offering,
  PkceMode,
  TokenEndpointAuthMethod,
  TokenResponseStyle,
} from './offering.entity.js';
import { OfferingError } from './offerings.errors.js';
import { describeFailure, ProviderClient } from '../providers/provider-client.service.js';

/** Offering fields other than identity and bookkeeping. */
export type OfferingFields = Omit<Offering, 'id' | 'builtIn' | 'createdAt' | 'updatedAt'>;

const TEMPLATE = /^\{\{instance_url\}\}(\/[^\s{}?#]*)?$/;
const URL_FIELDS = [
  'issuer',
  'authorizationUrl',
  'tokenUrl',
  'revocationUrl',
  'introspectionUrl',
  'userinfoUrl',
] as const;

@Injectable()
export class OfferingsService {
  constructor(
    @InjectRepository(Offering) private readonly offerings: Repository<Offering>,
    private readonly provider: ProviderClient,
    private readonly random: RandomSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly changes: ChangeFeed,
  ) {}

  list(filter: { enabled?: boolean } = {}): Promise<Offering[]> {
    return this.offerings.find({
      where: filter.enabled === undefined ? {} : { enabled: filter.enabled },
      order: { provider: 'ASC', environment: 'ASC', key: 'ASC' },
    });
  }

  async get(id: string): Promise<Offering> {
    const found = await this.offerings.findOneBy({ id });
    if (!found) throw OfferingError.notFound();
    return found;
  }

  /** An enabled offering, for starting something new on it (integrations, connections). */
  async getUsable(id: string): Promise<Offering> {
    const offering = await this.get(id);
    if (!offering.enabled) throw OfferingError.disabled();
    return offering;
  }

  async create(input: CreateOfferingDto): Promise<Offering> {
    const fields = await this.resolve(input);
    if (await this.offerings.existsBy({ key: fields.key }))
      throw OfferingError.keyTaken(fields.key);
    try {
      return await this.offerings.save(
        this.offerings.create({ ...fields, id: this.random.uuid(), builtIn: false }),
      );
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw OfferingError.keyTaken(fields.key);
      throw error;
    }
  }

  async update(id: string, input: UpdateOfferingDto): Promise<Offering> {
    const current = await this.get(id);
    const changes = Object.keys(input).filter(
      (k) => input[k as keyof UpdateOfferingDto] !== undefined,
    );
    if (current.builtIn) {
      if (changes.some((k) => k !== 'enabled')) throw OfferingError.builtInReadOnly();
      if (input.enabled !== undefined) current.enabled = input.enabled;
      const saved = await this.offerings.save(current);
      await this.changes.publish({ kind: 'offering', id: current.id });
      return saved;
    }
    const { id: _id, builtIn: _b, createdAt: _c, updatedAt: _u, ...existing } = current;
    const merged = {
      ...existing,
      ...Object.fromEntries(changes.map((k) => [k, input[k as keyof UpdateOfferingDto]])),
    };
    const fields = await this.resolve(merged as CreateOfferingDto);
    Object.assign(current, fields);
    const saved = await this.offerings.save(current);
    await this.changes.publish({ kind: 'offering', id: current.id });
    return saved;
  }

  async delete(id: string, integrationsUsingIt: () => Promise<number>): Promise<void> {
    const offering = await this.get(id);
    if (offering.builtIn) throw OfferingError.builtInReadOnly();
    const inUse = await integrationsUsingIt();
    if (inUse > 0) throw OfferingError.inUse(inUse);
    await this.offerings.delete({ id });
    await this.changes.publish({ kind: 'offering', id: offering.id });
  }

  /**
   * Upserts a built-in offering by key. The catalog file owns every field except `enabled`, which
   * stays as an admin set it. An admin-made offering with the same key is left alone.
   */
  async upsertBuiltIn(input: CreateOfferingDto): Promise<'inserted' | 'updated' | 'skipped'> {
    const fields = await this.resolve(input);
    const existing = await this.offerings.findOneBy({ key: fields.key });
    if (existing && !existing.builtIn) return 'skipped';
    const { enabled, ...rest } = fields;
    const result: Array<{ id: string; inserted: boolean }> = await this.offerings.query(
      `INSERT INTO offerings (id, key, provider, environment, display_name, enabled, auth_mode, issuer, authorization_url,
         token_url, revocation_url, introspection_url, userinfo_url, token_endpoint_auth_method, scopes, pkce,
         token_response_style, default_access_token_ttl_seconds, api_base_url, allowed_api_hosts, built_in)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,true)
       ON CONFLICT (key) DO UPDATE SET provider = EXCLUDED.provider, environment = EXCLUDED.environment,
         display_name = EXCLUDED.display_name, auth_mode = EXCLUDED.auth_mode, issuer = EXCLUDED.issuer,
         authorization_url = EXCLUDED.authorization_url, token_url = EXCLUDED.token_url,
         revocation_url = EXCLUDED.revocation_url, introspection_url = EXCLUDED.introspection_url,
         userinfo_url = EXCLUDED.userinfo_url, token_endpoint_auth_method = EXCLUDED.token_endpoint_auth_method,
         scopes = EXCLUDED.scopes, pkce = EXCLUDED.pkce, token_response_style = EXCLUDED.token_response_style,
         default_access_token_ttl_seconds = EXCLUDED.default_access_token_ttl_seconds,
         api_base_url = EXCLUDED.api_base_url, allowed_api_hosts = EXCLUDED.allowed_api_hosts, updated_at = now()
       WHERE offerings.built_in
       RETURNING id, (xmax = 0) AS inserted`,
      [
        this.random.uuid(),
        rest.key,
        rest.provider,
        rest.environment,
        rest.displayName,
        enabled,
        rest.authMode,
        rest.issuer,
        rest.authorizationUrl,
        rest.tokenUrl,
        rest.revocationUrl,
        rest.introspectionUrl,
        rest.userinfoUrl,
        rest.tokenEndpointAuthMethod,
        JSON.stringify(rest.scopes),
        rest.pkce,
        rest.tokenResponseStyle,
        rest.defaultAccessTokenTtlSeconds,
        rest.apiBaseUrl,
        rest.allowedApiHosts,
      ],
    );
    if (result.length === 0) return 'skipped';
    if (result[0].inserted) return 'inserted';
    // Replicas still running may cache the old fields (a rolling deploy with a changed catalog).
    await this.changes.publish({ kind: 'offering', id: result[0].id });
    return 'updated';
  }

  /**
   * Turns API input into complete, validated offering fields: discovery fills what an issuer
   * implies, defaults fill the rest, and every rule is checked. Problems are reported per field.
   */
  async resolve(input: CreateOfferingDto): Promise<OfferingFields> {
    const problems: Record<string, string[]> = {};
    const problem = (field: string, message: string) => (problems[field] ??= []).push(message);
    const allowInsecure = this.config.allowInsecureProviders;

    for (const field of URL_FIELDS) {
      const value = input[field];
      if (value) {
        const p = providerUrlProblem(value, allowInsecure);
        if (p) problem(field, p);
      }
    }
    if (Object.keys(problems).length) throw OfferingError.invalid(problems);

    const needsDiscovery =
      input.issuer && (!input.authorizationUrl || !input.tokenUrl || !input.scopes);
    const discovered = needsDiscovery ? await this.discover(input.issuer!) : undefined;
    if (discovered) {
      for (const [field, value] of Object.entries({
        authorizationUrl: discovered.authorizationUrl,
        tokenUrl: discovered.tokenUrl,
        revocationUrl: discovered.revocationUrl,
        introspectionUrl: discovered.introspectionUrl,
        userinfoUrl: discovered.userinfoUrl,
      })) {
        const p =
          value && !input[field as keyof CreateOfferingDto]
            ? providerUrlProblem(value, allowInsecure)
            : null;
        if (p) problem(field, `(discovered: ${value}) ${p}`);
      }
    }

    const authorizationUrl = input.authorizationUrl ?? discovered?.authorizationUrl;
    const tokenUrl = input.tokenUrl ?? discovered?.tokenUrl;
    if (!authorizationUrl)
      problem('authorizationUrl', 'is required unless an issuer provides it through discovery');
    if (!tokenUrl)
      problem('tokenUrl', 'is required unless an issuer provides it through discovery');

    const discoveredScopes = discovered?.scopesSupported?.includes('openid')
      ? {
          required: ['openid'],
          optional: discovered.scopesSupported.filter((s) => s !== 'openid'),
          // Refresh tokens in OpenID Connect need offline_access.
          default: [
            'openid',
            ...(discovered.scopesSupported.includes('offline_access') ? ['offline_access'] : []),
          ],
        }
      : undefined;
    const scopeInput = input.scopes ?? discoveredScopes;
    if (!scopeInput)
      problem('scopes', 'is required unless an issuer advertises scopes through discovery');
    const required = scopeInput?.required ?? [];
    const optional = scopeInput?.optional ?? [];
    const defaults = scopeInput?.default ?? required;
    const overlap = required.filter((s) => optional.includes(s));
    if (overlap.length)
      problem('scopes', `lists ${overlap.join(', ')} as both required and optional`);
    const allowed = new Set([...required, ...optional]);
    const unknownDefaults = defaults.filter((s) => !allowed.has(s));
    if (unknownDefaults.length)
      problem(
        'scopes.default',
        `must be among the required and optional scopes (not: ${unknownDefaults.join(', ')})`,
      );
    const missingRequired = required.filter((s) => !defaults.includes(s));
    if (missingRequired.length)
      problem(
        'scopes.default',
        `must include the required scopes (missing: ${missingRequired.join(', ')})`,
      );

    const allowedApiHosts = [...(input.allowedApiHosts ?? [])].map((h) => h.toLowerCase());
    for (const host of allowedApiHosts) {
      const p = hostPatternProblem(host);
      if (p) problem('allowedApiHosts', `"${host}" ${p}`);
    }
    const apiBaseUrl = input.apiBaseUrl ?? null;
    if (apiBaseUrl !== null) {
      if (apiBaseUrl.includes('{{')) {
        if (!TEMPLATE.test(apiBaseUrl))
          problem(
            'apiBaseUrl',
            'must be an https URL or {{instance_url}} optionally followed by a path',
          );
        else if (allowedApiHosts.length === 0)
          problem('allowedApiHosts', 'is required when apiBaseUrl is a template');
      } else {
        const p = providerUrlProblem(apiBaseUrl, allowInsecure);
        if (p) problem('apiBaseUrl', p);
        else {
          const url = new URL(apiBaseUrl);
          if (url.search) problem('apiBaseUrl', 'must not contain a query');
          if (allowedApiHosts.length === 0) allowedApiHosts.push(url.host.toLowerCase());
          else if (!hostMatches(url.hostname.toLowerCase(), url.port, allowedApiHosts)) {
            problem('allowedApiHosts', `must include the host of apiBaseUrl (${url.host})`);
          }
        }
      }
    }

    if (Object.keys(problems).length) throw OfferingError.invalid(problems);

    const authMethods = discovered?.tokenEndpointAuthMethods;
    const tokenEndpointAuthMethod =
      input.tokenEndpointAuthMethod ??
      (authMethods &&
      !authMethods.includes('client_secret_post') &&
      authMethods.includes('client_secret_basic')
        ? TokenEndpointAuthMethod.ClientSecretBasic
        : TokenEndpointAuthMethod.ClientSecretPost);
    return {
      key: input.key,
      provider: input.provider,
      environment: input.environment,
      displayName: input.displayName,
      enabled: input.enabled ?? true,
      authMode: input.authMode ?? AuthMode.OAuth2,
      issuer: input.issuer ?? null,
      authorizationUrl: authorizationUrl!,
      tokenUrl: tokenUrl!,
      revocationUrl: input.revocationUrl ?? discovered?.revocationUrl ?? null,
      introspectionUrl: input.introspectionUrl ?? discovered?.introspectionUrl ?? null,
      userinfoUrl: input.userinfoUrl ?? discovered?.userinfoUrl ?? null,
      tokenEndpointAuthMethod,
      scopes: { required, optional, default: defaults },
      pkce:
        input.pkce ?? (discovered && discovered.pkceS256 === false ? PkceMode.None : PkceMode.S256),
      tokenResponseStyle: input.tokenResponseStyle ?? TokenResponseStyle.Standard,
      defaultAccessTokenTtlSeconds: input.defaultAccessTokenTtlSeconds ?? 3600,
      apiBaseUrl,
      allowedApiHosts,
      template: {},
    };
  }

  private async discover(issuer: string) {
    try {
      return await this.provider.discover(issuer);
    } catch (error) {
      throw OfferingError.discoveryFailed(issuer, describeFailure(error).summary);
    }
  }
}
