import { describe, expect, it } from 'vitest';
import { RandomSource } from '../../common/random.js';
import type { AppConfig } from '../../config/config.js';
import type { DiscoveredMetadata, ProviderClient } from '../providers/provider-client.service.js';
import type { CreateOfferingDto } from './dto/offering.dto.js';
import { PkceMode, TokenEndpointAuthMethod } from './offering.entity.js';
import { OfferingsService } from './offerings.service.js';

/** The service with no database (resolve() reads none) and a provider that discovers `metadata`. */
function service(options: { metadata?: Partial<DiscoveredMetadata>; insecure?: boolean } = {}) {
  const discovered: string[] = [];
  const provider = {
    discover: (issuer: string) => {
      discovered.push(issuer);
      if (!options.metadata) return Promise.reject(new Error('no discovery in this test'));
      return Promise.resolve({ issuer, ...options.metadata } as DiscoveredMetadata);
    },
  } as unknown as ProviderClient;
  const config = { allowInsecureProviders: options.insecure ?? false } as AppConfig;
  return {
    discovered,
    offerings: new OfferingsService(
      undefined as never,
      provider,
      new RandomSource(),
      config,
      undefined as never,
      undefined as never,
    ),
  };
}

const base: CreateOfferingDto = {
  key: 'acme',
  provider: 'acme',
  environment: 'production',
  displayName: 'Acme',
  authorizationUrl: 'https://login.acme.example/oauth/authorize',
  tokenUrl: 'https://login.acme.example/oauth/token',
  scopes: {
    required: ['api'],
    optional: ['refresh_token', 'web'],
    default: ['api', 'refresh_token'],
  },
  apiBaseUrl: 'https://api.acme.example/v1',
} as CreateOfferingDto;

/** The per-field problems a rejected input gets. */
async function problemsOf(offerings: OfferingsService, input: Partial<CreateOfferingDto>) {
  try {
    await offerings.resolve({ ...base, ...input } as CreateOfferingDto);
    return null;
  } catch (error) {
    return (error as { details: { fields: Record<string, string[]> } }).details.fields;
  }
}

describe(OfferingsService.name, () => {
  describe('resolve', () => {
    it('fills defaults: PKCE S256, client_secret_post, one-hour tokens, the API host as allowed host', async () => {
      const { offerings, discovered } = service();
      const resolved = await offerings.resolve(base);
      expect(resolved).toMatchObject({
        pkce: PkceMode.S256,
        tokenEndpointAuthMethod: TokenEndpointAuthMethod.ClientSecretPost,
        defaultAccessTokenTtlSeconds: 3600,
        allowedApiHosts: ['api.acme.example'],
        enabled: true,
      });
      expect(discovered).toEqual([]); // Nothing to discover when the endpoints are given.
    });

    it('reports every problem at its field, at once', async () => {
      const { offerings } = service();
      expect(
        await problemsOf(offerings, {
          scopes: { required: ['api'], optional: ['api', 'web'], default: ['web'] },
          apiBaseUrl: 'https://api.acme.example/v1?tenant=1',
          allowedApiHosts: ['other.example'],
        }),
      ).toEqual({
        scopes: [
          'lists api as both required and optional',
          'default must include the required scopes (missing: api)',
        ],
        apiBaseUrl: ['must not contain a query or a fragment'],
        allowedApiHosts: ['must include the host of apiBaseUrl (api.acme.example)'],
      });
    });

    it('refuses http provider URLs unless insecure providers are allowed', async () => {
      const insecure = { tokenUrl: 'http://127.0.0.1:4010/oauth/token' };
      expect(Object.keys((await problemsOf(service().offerings, insecure))!)).toEqual(['tokenUrl']);
      expect(await problemsOf(service({ insecure: true }).offerings, insecure)).toBeNull();
    });

    it('needs allowed hosts for an {{instance_url}} API base, and refuses unknown placeholders', async () => {
      const { offerings } = service();
      expect(await problemsOf(offerings, { apiBaseUrl: '{{instance_url}}' })).toEqual({
        allowedApiHosts: ['is required when apiBaseUrl is a template'],
      });
      expect(
        await problemsOf(offerings, {
          apiBaseUrl: '{{instance_url}}',
          allowedApiHosts: ['*.acme.example'],
        }),
      ).toBeNull();
      expect(
        (
          await problemsOf(offerings, {
            apiBaseUrl: 'https://{{shop}}.acme.example',
            allowedApiHosts: ['*.acme.example'],
          })
        )?.apiBaseUrl,
      ).toEqual(['{{shop}} is neither a connectionConfig key nor a system value']);
    });

    it('completes an issuer-only offering from discovery, with OpenID scopes and offline access', async () => {
      const { offerings, discovered } = service({
        metadata: {
          authorizationUrl: 'https://id.acme.example/auth',
          tokenUrl: 'https://id.acme.example/token',
          userinfoUrl: 'https://id.acme.example/me',
          scopesSupported: ['openid', 'email', 'offline_access'],
          pkceS256: true,
          tokenEndpointAuthMethods: ['client_secret_basic'],
        },
      });
      const resolved = await offerings.resolve({
        ...base,
        issuer: 'https://id.acme.example',
        authorizationUrl: undefined,
        tokenUrl: undefined,
        scopes: undefined,
      } as unknown as CreateOfferingDto);
      expect(discovered).toEqual(['https://id.acme.example']);
      expect(resolved).toMatchObject({
        authorizationUrl: 'https://id.acme.example/auth',
        userinfoUrl: 'https://id.acme.example/me',
        scopes: {
          required: ['openid'],
          optional: ['email', 'offline_access'],
          default: ['openid', 'offline_access'],
        },
        tokenEndpointAuthMethod: TokenEndpointAuthMethod.ClientSecretBasic,
      });
    });

    it('says the issuer could not be discovered when discovery fails', async () => {
      const { offerings } = service();
      await expect(
        offerings.resolve({
          ...base,
          issuer: 'https://id.acme.example',
          tokenUrl: undefined,
        } as unknown as CreateOfferingDto),
      ).rejects.toThrow(/id\.acme\.example/);
    });
  });

  describe('validate', () => {
    it('checks like a save but discovers nothing: what an issuer would fill is a warning', () => {
      const { offerings, discovered } = service();
      const result = offerings.validate({
        ...base,
        issuer: 'https://id.acme.example',
        authorizationUrl: undefined,
        scopes: undefined,
      });
      expect(discovered).toEqual([]);
      expect(result).toEqual({
        valid: true,
        errors: [],
        warnings: [
          { path: '/authorizationUrl', message: 'is left to discovery from the issuer at save' },
          { path: '/scopes', message: 'is left to discovery from the issuer at save' },
        ],
      });
    });

    it('reports schema and semantic problems at their JSON Pointers', () => {
      const { offerings } = service();
      expect(
        offerings.validate({
          ...base,
          tokenResponse: { accessToken: 'access_token' },
          authorizationParams: { audience: '[[apiKey]]' },
        }),
      ).toMatchObject({
        valid: false,
        errors: [{ path: '/tokenResponse/accessToken', message: expect.any(String) }],
      });
      expect(
        offerings.validate({ ...base, authorizationParams: { audience: '[[apiKey]]' } }).errors,
      ).toEqual([
        { path: '/authorizationParams/audience', message: expect.stringContaining('apiKey') },
      ]);
    });

    it('refuses a body that is not an object', () => {
      expect(service().offerings.validate([1, 2]).valid).toBe(false);
    });
  });

  describe('resolve with templates', () => {
    it('says which endpoint discovery did not provide', async () => {
      const { offerings } = service({
        metadata: { tokenUrl: 'https://id.acme.example/token', scopesSupported: ['email'] },
      });
      expect(
        await problemsOf(offerings, {
          issuer: 'https://id.acme.example',
          authorizationUrl: undefined,
          tokenUrl: undefined,
          scopes: undefined,
        }),
      ).toEqual({
        authorizationUrl: ['is required unless an issuer provides it through discovery'],
        scopes: ['is required unless an issuer advertises scopes through discovery'],
      });
    });

    it('keeps the token endpoint column in step with tokenRequest.clientAuthentication', async () => {
      const { offerings } = service();
      const resolved = await offerings.resolve({
        ...base,
        tokenRequest: { clientAuthentication: 'none' },
      });
      expect(resolved.tokenEndpointAuthMethod).toBe(TokenEndpointAuthMethod.None);
      expect(resolved.template).toEqual({ tokenRequest: { clientAuthentication: 'none' } });
    });
  });
});
