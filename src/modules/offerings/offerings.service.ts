import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, Repository } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import { providerUrlProblem } from '../../common/http/url-policy.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { EventsService } from '../events/events.service.js';
import { RandomSource } from '../../common/random.js';
import type { AppConfig } from '../../config/config.js';
import {
  type ProviderTemplate,
  type TemplateProblem,
  validateTemplate,
} from '../providers/templates/index.js';
import type { UpdateOfferingDto } from './dto/offering.dto.js';
import {
  AuthMode,
  Offering,
  type OfferingScopes,
  type OfferingTemplateParts,
  PkceMode,
  TEMPLATE_PART_KEYS,
  TokenEndpointAuthMethod,
  TokenResponseStyle,
} from './offering.entity.js';
import { templateOf } from './offering-template.js';
import { OfferingError } from './offerings.errors.js';
import { describeFailure, ProviderClient } from '../providers/provider-client.service.js';

/** Offering fields other than identity and bookkeeping. */
export type OfferingFields = Omit<Offering, 'id' | 'builtIn' | 'createdAt' | 'updatedAt'>;

@Injectable()
export class OfferingsService {
  constructor(
    @InjectRepository(Offering) private readonly offerings: Repository<Offering>,
    private readonly provider: ProviderClient,
    private readonly random: RandomSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly changes: ChangeFeed,
    private readonly events: EventsService,
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

  async create(input: OfferingInput): Promise<Offering> {
    const fields = await this.resolve(input);
    if (await this.offerings.existsBy({ key: fields.key }))
      throw OfferingError.keyTaken(fields.key);
    try {
      return await this.offerings.manager.transaction(async (manager) => {
        const saved = await manager
          .getRepository(Offering)
          .save(this.offerings.create({ ...fields, id: this.random.uuid(), builtIn: false }));
        await this.record(manager, 'offering.created', saved, { enabled: saved.enabled });
        return saved;
      });
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw OfferingError.keyTaken(fields.key);
      throw error;
    }
  }

  /**
   * Copies an offering (built-in or not) into an editable one under a new key: the whole template
   * as it stands, validated and saved like a create (409 when the key is taken).
   */
  async clone(id: string, input: { key: string; displayName?: string }): Promise<Offering> {
    const source = await this.get(id);
    return this.create({
      ...templateOf(source),
      key: input.key,
      displayName: input.displayName ?? `${source.displayName} (copy)`,
    });
  }

  async update(id: string, input: UpdateOfferingDto): Promise<Offering> {
    const current = await this.get(id);
    const changes = Object.keys(input).filter(
      (k) => input[k as keyof UpdateOfferingDto] !== undefined,
    );
    if (current.builtIn) {
      if (changes.some((k) => k !== 'enabled')) throw OfferingError.builtInReadOnly();
      const enabledBefore = current.enabled;
      if (input.enabled !== undefined) current.enabled = input.enabled;
      const saved = await this.save(current, current.enabled !== enabledBefore ? ['enabled'] : []);
      await this.changes.publish({ kind: 'offering', id: current.id });
      return saved;
    }
    // PATCH merges top-level fields into the stored template; null removes a field or part.
    const merged: Record<string, unknown> = { ...templateOf(current) };
    for (const k of changes) merged[k] = input[k as keyof UpdateOfferingDto];
    // A new tokenRequest speaks for itself: the stored legacy flat field would only contradict it.
    if (input.tokenRequest !== undefined && input.tokenEndpointAuthMethod === undefined)
      delete merged.tokenEndpointAuthMethod;
    const fields = await this.resolve(merged);
    Object.assign(current, fields);
    const saved = await this.save(current, changes);
    await this.changes.publish({ kind: 'offering', id: current.id });
    return saved;
  }

  /** Saves an admin's change with its `offering.updated` event (none when nothing changed). */
  private save(offering: Offering, changed: string[]): Promise<Offering> {
    return this.offerings.manager.transaction(async (manager) => {
      const saved = await manager.getRepository(Offering).save(offering);
      if (changed.length)
        await this.record(manager, 'offering.updated', saved, {
          changed: [...changed].sort(),
          enabled: saved.enabled,
        });
      return saved;
    });
  }

  /** Offerings are the platform's: their events belong to no workspace (platform admins read them). */
  private record(
    manager: EntityManager,
    type: string,
    offering: Offering,
    data: Record<string, unknown>,
  ): Promise<string> {
    return this.events.record(manager, {
      type,
      workspaceId: null,
      subject: { kind: 'offering', id: offering.id },
      data: { key: offering.key, ...data },
    });
  }

  async delete(id: string, integrationsUsingIt: () => Promise<number>): Promise<void> {
    const offering = await this.get(id);
    if (offering.builtIn) throw OfferingError.builtInReadOnly();
    const inUse = await integrationsUsingIt();
    if (inUse > 0) throw OfferingError.inUse(inUse);
    await this.offerings.manager.transaction(async (manager) => {
      const result = await manager.getRepository(Offering).delete({ id: offering.id });
      if (result.affected === 1) await this.record(manager, 'offering.deleted', offering, {});
    });
    await this.changes.publish({ kind: 'offering', id: offering.id });
  }

  /**
   * Upserts a built-in offering by key. The catalog file owns every field except `enabled`, which
   * stays as an admin set it. An admin-made offering with the same key is left alone.
   */
  async upsertBuiltIn(input: OfferingInput): Promise<'inserted' | 'updated' | 'skipped'> {
    const fields = await this.resolve(input);
    const existing = await this.offerings.findOneBy({ key: fields.key });
    if (existing && !existing.builtIn) return 'skipped';
    const { enabled, ...rest } = fields;
    const result: Array<{ id: string; inserted: boolean }> = await this.offerings.query(
      `INSERT INTO offerings (id, key, provider, environment, display_name, enabled, auth_mode, issuer, authorization_url,
         token_url, revocation_url, introspection_url, userinfo_url, token_endpoint_auth_method, scopes, pkce,
         token_response_style, default_access_token_ttl_seconds, api_base_url, allowed_api_hosts, template, built_in)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,true)
       ON CONFLICT (key) DO UPDATE SET provider = EXCLUDED.provider, environment = EXCLUDED.environment,
         display_name = EXCLUDED.display_name, auth_mode = EXCLUDED.auth_mode, issuer = EXCLUDED.issuer,
         authorization_url = EXCLUDED.authorization_url, token_url = EXCLUDED.token_url,
         revocation_url = EXCLUDED.revocation_url, introspection_url = EXCLUDED.introspection_url,
         userinfo_url = EXCLUDED.userinfo_url, token_endpoint_auth_method = EXCLUDED.token_endpoint_auth_method,
         scopes = EXCLUDED.scopes, pkce = EXCLUDED.pkce, token_response_style = EXCLUDED.token_response_style,
         default_access_token_ttl_seconds = EXCLUDED.default_access_token_ttl_seconds,
         api_base_url = EXCLUDED.api_base_url, allowed_api_hosts = EXCLUDED.allowed_api_hosts,
         template = EXCLUDED.template, updated_at = now()
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
        JSON.stringify(rest.template),
      ],
    );
    if (result.length === 0) return 'skipped';
    if (result[0].inserted) return 'inserted';
    // Replicas still running may cache the old fields (a rolling deploy with a changed catalog).
    await this.changes.publish({ kind: 'offering', id: result[0].id });
    return 'updated';
  }

  /**
   * Turns API input (or a catalog file, or a merged PATCH) into complete, validated offering
   * fields: discovery fills what an issuer implies, defaults fill the rest, then the whole template
   * passes validateTemplate (the JSON Schema and the semantic rules) plus what only a saved
   * offering needs. Every problem is reported at its JSON Pointer, at once.
   */
  async resolve(input: OfferingInput): Promise<OfferingFields> {
    const options = this.templateOptions();
    const t = givenFields(input);
    const mode = modeOf(t);
    const scopes = t.scopes as Partial<OfferingScopes> | undefined;
    const needsDiscovery =
      typeof t.issuer === 'string' &&
      mode === AuthMode.OAuth2 &&
      (!t.authorizationUrl || !t.tokenUrl || !scopes);
    if (needsDiscovery) {
      // Nothing is fetched for a template that is wrong anyway, nor from an unacceptable issuer.
      const first = validateTemplate(t, options);
      if (!first.ok) throw OfferingError.invalid(first.errors);
      const discovered = await this.discover(t.issuer as string);
      const problems: TemplateProblem[] = [];
      for (const field of DISCOVERED_URLS) {
        const value = discovered[field];
        if (!value || t[field] !== undefined) continue;
        const p = providerUrlProblem(value, options.allowInsecure);
        if (p) problems.push({ path: `/${field}`, message: `(discovered: ${value}) ${p}` });
        else t[field] = value;
      }
      if (problems.length) throw OfferingError.invalid(problems);
      if (!scopes && discovered.scopesSupported?.includes('openid')) {
        t.scopes = {
          required: ['openid'],
          optional: discovered.scopesSupported.filter((s) => s !== 'openid'),
          // Refresh tokens in OpenID Connect need offline_access.
          default: [
            'openid',
            ...(discovered.scopesSupported.includes('offline_access') ? ['offline_access'] : []),
          ],
        };
      }
      const methods = discovered.tokenEndpointAuthMethods;
      const tokenRequest = t.tokenRequest as { clientAuthentication?: string } | undefined;
      if (
        t.tokenEndpointAuthMethod === undefined &&
        tokenRequest?.clientAuthentication === undefined &&
        methods &&
        !methods.includes('client_secret_post') &&
        methods.includes('client_secret_basic')
      )
        t.tokenEndpointAuthMethod = TokenEndpointAuthMethod.ClientSecretBasic;
      if (t.pkce === undefined && discovered.pkceS256 === false) t.pkce = PkceMode.None;
    }
    const filled = t.scopes as Partial<OfferingScopes> | undefined;
    if (filled && filled.default === undefined && Array.isArray(filled.required))
      t.scopes = { ...filled, default: [...filled.required] };

    const result = validateTemplate(t, options);
    const errors = [...(result.ok ? [] : result.errors), ...completeness(t, 'saved').errors];
    if (!result.ok || errors.length) throw OfferingError.invalid(errors);
    return fieldsOf(result.template);
  }

  /**
   * POST /offerings/validate: the same rules as saving, without saving and without discovery
   * (what an issuer would fill is reported as a warning instead).
   */
  validate(input: unknown): {
    valid: boolean;
    errors: TemplateProblem[];
    warnings: TemplateProblem[];
  } {
    const isObject = typeof input === 'object' && input !== null && !Array.isArray(input);
    const t = isObject ? givenFields(input) : input;
    const result = validateTemplate(t, this.templateOptions());
    const errors = result.ok ? [] : [...result.errors];
    const warnings = result.ok ? [...result.warnings] : [];
    if (isObject) {
      const more = completeness(t as Record<string, unknown>, 'dry_run');
      errors.push(...more.errors);
      if (errors.length === 0) warnings.push(...more.warnings);
    }
    return { valid: errors.length === 0, errors, warnings };
  }

  private templateOptions(): { allowInsecure: boolean } {
    return { allowInsecure: this.config.allowInsecureProviders };
  }

  private async discover(issuer: string) {
    try {
      return await this.provider.discover(issuer);
    } catch (error) {
      throw OfferingError.discoveryFailed(issuer, describeFailure(error).summary);
    }
  }
}

/** Input to resolve: an API body, a catalog file or a merged PATCH; validated here. */
export type OfferingInput = object;

const DISCOVERED_URLS = [
  'authorizationUrl',
  'tokenUrl',
  'revocationUrl',
  'introspectionUrl',
  'userinfoUrl',
] as const;

/** The fields given: undefined and null left out (null in a PATCH removes a field). */
function givenFields(input: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined && v !== null));
}

function modeOf(t: Record<string, unknown>): AuthMode {
  return (t.authMode as AuthMode | undefined) ?? AuthMode.OAuth2;
}

/**
 * What a saved oauth2 offering needs beyond the schema: scopes, and with an issuer, whatever
 * discovery did not fill (without an issuer the schema already requires the endpoints). A dry run
 * (`POST /offerings/validate`, no discovery) reports what is left to discovery as warnings.
 */
function completeness(
  t: Record<string, unknown>,
  stage: 'saved' | 'dry_run',
): { errors: TemplateProblem[]; warnings: TemplateProblem[] } {
  const errors: TemplateProblem[] = [];
  const warnings: TemplateProblem[] = [];
  if (modeOf(t) !== AuthMode.OAuth2) return { errors, warnings };
  const withIssuer = typeof t.issuer === 'string';
  for (const field of ['authorizationUrl', 'tokenUrl', 'scopes'] as const) {
    if (t[field] !== undefined || (!withIssuer && field !== 'scopes')) continue;
    if (withIssuer && stage === 'dry_run')
      warnings.push({ path: `/${field}`, message: 'is left to discovery from the issuer at save' });
    else
      errors.push({
        path: `/${field}`,
        message:
          field === 'scopes'
            ? 'is required unless an issuer advertises scopes through discovery'
            : 'is required unless an issuer provides it through discovery',
      });
  }
  return { errors, warnings };
}

/** The columns of a template that passed validation. */
function fieldsOf(t: ProviderTemplate): OfferingFields {
  const mode = (t.authMode ?? AuthMode.OAuth2) as AuthMode;
  const allowedApiHosts = (t.allowedApiHosts ?? []).map((h) => h.toLowerCase());
  // A fixed API base with no hosts listed allows its own host.
  if (t.apiBaseUrl && !allowedApiHosts.length && !/\{\{|\[\[/.test(t.apiBaseUrl))
    allowedApiHosts.push(new URL(t.apiBaseUrl).host.toLowerCase());
  const required = t.scopes?.required ?? [];
  const template: OfferingTemplateParts = {};
  for (const k of TEMPLATE_PART_KEYS)
    if (t[k] !== undefined) (template as Record<string, unknown>)[k] = t[k];
  const oauth = mode === AuthMode.OAuth2 || mode === AuthMode.ClientCredentials;
  return {
    key: t.key,
    provider: t.provider,
    environment: t.environment,
    displayName: t.displayName,
    enabled: t.enabled ?? true,
    authMode: mode,
    issuer: t.issuer ?? null,
    authorizationUrl: t.authorizationUrl ?? null,
    tokenUrl: t.tokenUrl ?? null,
    revocationUrl: t.revocationUrl ?? null,
    introspectionUrl: t.introspectionUrl ?? null,
    userinfoUrl: t.userinfoUrl ?? null,
    tokenEndpointAuthMethod: (t.tokenRequest?.clientAuthentication ??
      t.tokenEndpointAuthMethod ??
      (oauth
        ? TokenEndpointAuthMethod.ClientSecretPost
        : TokenEndpointAuthMethod.None)) as TokenEndpointAuthMethod,
    scopes: {
      required,
      optional: t.scopes?.optional ?? [],
      default: t.scopes?.default ?? required,
    },
    pkce: (t.pkce ?? PkceMode.S256) as PkceMode,
    tokenResponseStyle: (t.tokenResponseStyle ?? TokenResponseStyle.Standard) as TokenResponseStyle,
    defaultAccessTokenTtlSeconds: t.defaultAccessTokenTtlSeconds ?? 3600,
    apiBaseUrl: t.apiBaseUrl ?? null,
    allowedApiHosts,
    template,
  };
}
