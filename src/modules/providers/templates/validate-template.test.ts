import { describe, expect, it } from 'vitest';
import oidcFixture from './fixtures/generic-oidc.template.json' with { type: 'json' };
import salesforceFixture from './fixtures/salesforce.template.json' with { type: 'json' };
import type { ProviderTemplate } from './template.schema.js';
import { validateTemplate } from './validate-template.js';

/** A minimal valid oauth2 template with overrides. */
function template(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    key: 'acme',
    provider: 'acme',
    environment: 'production',
    displayName: 'Acme',
    authorizationUrl: 'https://acme.example/oauth/authorize',
    tokenUrl: 'https://acme.example/oauth/token',
    scopes: { required: ['read'], optional: ['write'], default: ['read'] },
    ...overrides,
  };
}

function errorsOf(input: unknown, options = {}) {
  const result = validateTemplate(input, options);
  return result.ok ? [] : result.errors;
}

describe(validateTemplate.name, () => {
  describe('fixtures', () => {
    it('accepts Salesforce expressed as a template', () => {
      const result = validateTemplate(salesforceFixture);
      expect(result).toMatchObject({ ok: true, warnings: [] });
    });

    it('accepts a generic OIDC provider found by discovery', () => {
      expect(validateTemplate(oidcFixture)).toMatchObject({ ok: true });
    });

    it('accepts the shipped offerings as they are', async () => {
      const { readFile } = await import('node:fs/promises');
      for (const file of ['salesforce.json', 'salesforce-sandbox.json']) {
        const json: unknown = JSON.parse(
          await readFile(new URL(`../../../../offerings/${file}`, import.meta.url), 'utf8'),
        );
        expect(validateTemplate(json)).toMatchObject({ ok: true });
      }
    });
  });

  describe('schema errors', () => {
    it('names the JSON Pointer of each problem', () => {
      expect(
        errorsOf(
          template({
            key: 'Not A Slug',
            tokenRequest: { bodyFormat: 'xml' },
            userDetails: { url: 'https://acme.example/me', mapping: { name: '$.name' } },
            surprise: true,
          }),
        ),
      ).toEqual(
        expect.arrayContaining([
          { path: '/key', message: expect.stringMatching(/pattern/) },
          { path: '/tokenRequest/bodyFormat', message: 'must be one of "form", "json"' },
          { path: '/userDetails/mapping/uid', message: 'is required' },
          { path: '/surprise', message: 'is not a known field' },
        ]),
      );
    });

    it('requires the endpoints oauth2 uses, unless an issuer is given', () => {
      expect(errorsOf(template({ authorizationUrl: undefined, tokenUrl: undefined }))).toEqual([
        {
          path: '/authorizationUrl',
          message: 'is required for this authMode unless an issuer provides it through discovery',
        },
        {
          path: '/tokenUrl',
          message: 'is required for this authMode unless an issuer provides it through discovery',
        },
      ]);
      expect(
        errorsOf(
          template({
            authorizationUrl: undefined,
            tokenUrl: undefined,
            issuer: 'https://acme.example',
          }),
        ),
      ).toEqual([]);
    });

    it('requires tokenUrl for client credentials but not authorizationUrl', () => {
      expect(
        errorsOf(
          template({
            authMode: 'oauth2_client_credentials',
            authorizationUrl: undefined,
            tokenUrl: undefined,
          }),
        ),
      ).toEqual([{ path: '/tokenUrl', message: 'is required for this authMode' }]);
    });

    it('requires credential fields for bearer_token and exactly two for basic', () => {
      const bearer = { ...template({ authMode: 'bearer_token' }), authorizationUrl: undefined };
      expect(errorsOf(bearer)).toEqual([
        { path: '/credentialFields', message: 'is required for this authMode' },
      ]);
      expect(
        errorsOf(
          template({ authMode: 'basic', credentialFields: [{ key: 'user', label: 'User' }] }),
        ),
      ).toEqual([{ path: '/credentialFields', message: 'must NOT have fewer than 2 items' }]);
    });

    it('accepts basic without credential fields (username and password) and warns without userDetails', () => {
      const result = validateTemplate({
        key: 'legacy',
        provider: 'legacy',
        environment: 'production',
        displayName: 'Legacy',
        authMode: 'basic',
        apiBaseUrl: 'https://legacy.example/api',
      });
      expect(result).toEqual({
        ok: true,
        template: expect.anything(),
        warnings: [{ path: '/userDetails', message: expect.stringMatching(/unverified/) }],
      });
    });

    it('refuses bad keys in configuration inputs, mappings and header names', () => {
      expect(
        errorsOf(
          template({
            connectionConfig: [{ key: 'sub-domain', label: 'Subdomain' }],
            tokenResponse: { metadata: { 'team.id': '$.team.id' } },
            proxyHeaders: { 'X Api': 'x' },
          }),
        ),
      ).toEqual(
        expect.arrayContaining([
          { path: '/connectionConfig/0/key', message: expect.stringMatching(/pattern/) },
          { path: '/tokenResponse/metadata/team.id', message: 'is not an allowed name' },
          { path: '/proxyHeaders/X Api', message: 'is not an allowed name' },
        ]),
      );
    });

    it('refuses control characters in header templates', () => {
      expect(errorsOf(template({ proxyHeaders: { 'X-A': 'a\r\nB: c' } }))).toEqual([
        { path: '/proxyHeaders/X-A', message: expect.stringMatching(/pattern/) },
      ]);
    });
  });

  describe('placeholders', () => {
    it('refuses unknown [[credential]] and {{config}} keys', () => {
      expect(
        errorsOf(
          template({
            apiBaseUrl: 'https://api.acme.example',
            proxyHeaders: { 'X-Key': '[[apiKey]]', 'X-Shop': '{{shop}}' },
          }),
        ),
      ).toEqual([
        {
          path: '/proxyHeaders/X-Key',
          message: expect.stringMatching(/\[\[apiKey\]\] is not a known/),
        },
        { path: '/proxyHeaders/X-Shop', message: expect.stringMatching(/\{\{shop\}\} is neither/) },
      ]);
    });

    it('knows connectionConfig keys, credential fields, token keys and mapped keys', () => {
      expect(
        errorsOf(
          template({
            connectionConfig: [{ key: 'shop', label: 'Shop', type: 'hostname_label' }],
            tokenResponse: { metadata: { teamId: '$.team.id' } },
            userDetails: {
              url: 'https://{{shop}}.acme.example/me',
              headers: { Authorization: 'Bearer [[accessToken]]' },
              mapping: { uid: '$.id', metadata: { storeId: '$.store.id' } },
            },
            apiBaseUrl: 'https://{{shop}}.acme.example/api',
            allowedApiHosts: ['*.acme.example'],
            proxyHeaders: {
              Authorization: 'Bearer [[accessToken]]',
              'Store-Id': '[[storeId]]',
              'Team-Id': '[[teamId]]',
            },
          }),
        ),
      ).toEqual([]);
    });

    it('refuses a system key where it has no value', () => {
      expect(errorsOf(template({ proxyHeaders: { 'X-State': '{{state}}' } }))).toEqual([
        { path: '/proxyHeaders/X-State', message: '{{state}} has no value for the proxy' },
      ]);
      expect(errorsOf(template({ authorizationParams: { audience: '[[accessToken]]' } }))).toEqual([
        {
          path: '/authorizationParams/audience',
          message:
            '[[accessToken]] is not a known credential or metadata key in the authorization request',
        },
      ]);
    });

    it('lets a registration request use keys of earlier requests only', () => {
      const registration = (mapping: object, header: string) => ({
        url: 'https://acme.example/hooks',
        method: 'POST',
        headers: { 'X-Ref': header },
        body: { url: 'https://app.example/hook' },
        mapping,
      });
      const input = template({
        registrationRequests: [
          registration({ credentials: { webhookId: '$.id' } }, '[[subscriptionId]]'),
          registration({ metadata: { subscriptionId: '$.id' } }, '[[webhookId]]'),
        ],
      });
      expect(errorsOf(input)).toEqual([
        {
          path: '/registrationRequests/0/headers/X-Ref',
          message: expect.stringMatching(/\[\[subscriptionId\]\] is not a known .* come too late/),
        },
      ]);
    });

    it('refuses malformed placeholders with their path', () => {
      expect(
        errorsOf(template({ proxyHeaders: { Authorization: 'Bearer [[ accessToken ]]' } })),
      ).toEqual([
        {
          path: '/proxyHeaders/Authorization',
          message: expect.stringMatching(/Malformed placeholder/),
        },
      ]);
    });

    it('refuses configuration keys that shadow system keys and mappings that overwrite tokens', () => {
      expect(
        errorsOf(
          template({
            connectionConfig: [{ key: 'client_id', label: 'Client' }],
            registrationRequests: [
              {
                url: 'https://acme.example/x',
                mapping: { credentials: { accessToken: '$.token' } },
              },
            ],
            userDetails: {
              url: 'https://acme.example/me',
              mapping: { uid: '$.id', metadata: { refreshToken: '$.r' } },
            },
          }),
        ),
      ).toEqual(
        expect.arrayContaining([
          { path: '/connectionConfig/0/key', message: '"client_id" is a system value\'s name' },
          {
            path: '/registrationRequests/0/mapping/credentials/accessToken',
            message: 'would overwrite the credential "accessToken"',
          },
          {
            path: '/userDetails/mapping/metadata/refreshToken',
            message: expect.stringMatching(/hidden by the credential/),
          },
        ]),
      );
    });
  });

  describe('callback parameters and token-response credentials', () => {
    it("makes a callback parameter a metadata key for later placeholders (QuickBooks' realmId)", () => {
      const withRealm = template({
        callbackParams: { realmId: 'realmId' },
        apiBaseUrl: 'https://quickbooks.api.intuit.com/v3/company/[[realmId]]',
      });
      expect(errorsOf(withRealm)).toEqual([]);
      expect(errorsOf({ ...withRealm, callbackParams: undefined }).map((e) => e.path)).toEqual([
        '/apiBaseUrl',
      ]);
    });

    it('refuses a token-response credential that would overwrite a token', () => {
      expect(
        errorsOf(template({ tokenResponse: { credentials: { refreshToken: '$.x' } } })),
      ).toEqual([
        {
          path: '/tokenResponse/credentials/refreshToken',
          message: 'would overwrite the credential "refreshToken"',
        },
      ]);
      expect(
        errorsOf(
          template({
            tokenResponse: { credentials: { userToken: '$.authed_user.access_token' } },
            proxyHeaders: { Authorization: 'Bearer [[userToken]]' },
            apiBaseUrl: 'https://slack.com/api',
          }),
        ),
      ).toEqual([]);
    });
  });

  describe('URL placement', () => {
    it.each([
      [
        'a credential in a host',
        { apiBaseUrl: 'https://[[accessToken]].acme.example' },
        '/apiBaseUrl',
      ],
      [
        'a placeholder in the port',
        { tokenUrl: 'https://acme.example:{{port}}/token' },
        '/tokenUrl',
      ],
      [
        'instance_url inside a path',
        { userinfoUrl: 'https://acme.example/{{instance_url}}' },
        '/userinfoUrl',
      ],
      ['http outside loopback', { tokenUrl: 'http://acme.example/token' }, '/tokenUrl'],
      ['userinfo', { tokenUrl: 'https://user@acme.example/token' }, '/tokenUrl'],
      ['a query in apiBaseUrl', { apiBaseUrl: 'https://acme.example/api?x=1' }, '/apiBaseUrl'],
    ])('refuses %s', (_why, overrides, path) => {
      expect(errorsOf(template(overrides))).toContainEqual({ path, message: expect.any(String) });
    });

    it('allows http on loopback only when insecure providers are allowed', () => {
      const input = template({ tokenUrl: 'http://127.0.0.1:9999/token' });
      expect(errorsOf(input)).toEqual([{ path: '/tokenUrl', message: expect.any(String) }]);
      expect(errorsOf(input, { allowInsecure: true })).toEqual([]);
    });
  });

  describe('scopes and hosts', () => {
    it('requires default scopes within required ∪ optional and containing every required one', () => {
      expect(
        errorsOf(
          template({
            scopes: { required: ['read'], optional: ['write'], default: ['write', 'admin'] },
          }),
        ),
      ).toEqual([
        {
          path: '/scopes/default',
          message: 'must be among the required and optional scopes (not: admin)',
        },
        { path: '/scopes/default', message: 'must include the required scopes (missing: read)' },
      ]);
    });

    it('requires a fixed apiBaseUrl host within allowedApiHosts', () => {
      expect(
        errorsOf(
          template({ apiBaseUrl: 'https://api.evil.example', allowedApiHosts: ['*.acme.example'] }),
        ),
      ).toEqual([
        {
          path: '/allowedApiHosts',
          message: 'must include the host of apiBaseUrl (api.evil.example)',
        },
      ]);
    });

    it('requires allowedApiHosts covering a templated host', () => {
      const input = (allowedApiHosts?: string[]) =>
        template({
          connectionConfig: [{ key: 'shop', label: 'Shop' }],
          apiBaseUrl: 'https://{{shop}}.myshopify.com/admin',
          allowedApiHosts,
        });
      expect(errorsOf(input())).toEqual([
        { path: '/allowedApiHosts', message: 'is required when apiBaseUrl is a template' },
      ]);
      expect(errorsOf(input(['admin.myshopify.com']))).toEqual([
        { path: '/allowedApiHosts', message: expect.stringMatching(/must include the host/) },
      ]);
      expect(errorsOf(input(['*.myshopify.com']))).toEqual([]);
    });
  });

  describe('legacy fields', () => {
    it('refuses a token style that disagrees with tokenResponse.salesforce', () => {
      expect(
        errorsOf(
          template({
            tokenResponseStyle: 'standard',
            tokenResponse: { salesforce: { verifySignature: true } },
          }),
        ),
      ).toEqual([{ path: '/tokenResponseStyle', message: expect.any(String) }]);
    });

    it('refuses a tokenEndpointAuthMethod that disagrees with tokenRequest', () => {
      expect(
        errorsOf(
          template({
            tokenEndpointAuthMethod: 'client_secret_post',
            tokenRequest: { clientAuthentication: 'client_secret_basic' },
          }),
        ),
      ).toEqual([{ path: '/tokenEndpointAuthMethod', message: expect.any(String) }]);
    });

    it('refuses authorization and token parameters that Latchkey sets itself', () => {
      expect(
        errorsOf(
          template({
            authorizationParams: { state: 'fixed' },
            tokenRequest: { extraParams: { grant_type: 'x' } },
          }),
        ),
      ).toEqual([
        { path: '/authorizationParams/state', message: 'is set by Latchkey itself' },
        { path: '/tokenRequest/extraParams/grant_type', message: 'is set by Latchkey itself' },
      ]);
    });
  });

  it('returns the typed template when valid', () => {
    const result = validateTemplate(template());
    if (!result.ok) throw new Error('expected a valid template');
    const typed: ProviderTemplate = result.template;
    expect(typed.key).toBe('acme');
  });
});
