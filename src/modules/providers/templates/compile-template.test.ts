import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import salesforceFixture from './fixtures/salesforce.template.json' with { type: 'json' };
import {
  compileTemplate,
  effectiveProxyHeaders,
  readTokenResponse,
  renderBasicAuthorization,
  renderRequest,
} from './compile-template.js';
import { placeholderValues } from './placeholders.js';
import { renderHeaders } from './render.js';
import type { ProviderTemplate } from './template.schema.js';
import { renderUrl } from './url-template.js';
import { validateTemplate } from './validate-template.js';

function valid(input: unknown): ProviderTemplate {
  const result = validateTemplate(input);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.template;
}

const salesforce = valid(salesforceFixture);

describe(compileTemplate.name, () => {
  afterEach(() => vi.restoreAllMocks());

  it('yields equal structures when compiled twice', () => {
    expect(compileTemplate(salesforce)).toEqual(compileTemplate(salesforce));
  });

  it('holds pre-parsed segments, not template strings to parse again', () => {
    const compiled = compileTemplate(salesforce);
    expect(compiled.proxyHeaders).toEqual([
      [
        'Authorization',
        {
          source: 'Bearer [[accessToken]]',
          constant: false,
          segments: [
            { kind: 'literal', text: 'Bearer ' },
            { kind: 'credential', key: 'accessToken' },
          ],
        },
      ],
    ]);
    expect(compiled.apiBaseUrl?.parts).toEqual([{ kind: 'origin', key: 'instance_url' }]);
    expect(Object.isFrozen(compiled.proxyHeaders)).toBe(true);
  });

  it('renders proxy headers and the API base without running a regular expression', () => {
    const compiled = compileTemplate(salesforce);
    const values = placeholderValues({
      credentials: { accessToken: '00Dxx!token' },
      system: { instance_url: 'https://acme.my.salesforce.com' },
    });
    const spies = [
      vi.spyOn(RegExp.prototype, 'exec'),
      vi.spyOn(RegExp.prototype, 'test'),
      vi.spyOn(RegExp.prototype, Symbol.replace),
      vi.spyOn(RegExp.prototype, Symbol.match),
    ];
    const headers = renderHeaders(compiled.proxyHeaders, values);
    const base = renderUrl(compiled.apiBaseUrl!, values);
    // Read the counts before any expect(): the matchers themselves use regular expressions.
    const calls = spies.map((spy) => spy.mock.calls.length);
    expect(calls).toEqual([0, 0, 0, 0]);
    expect(headers).toEqual({ Authorization: 'Bearer 00Dxx!token' });
    expect(base).toBe('https://acme.my.salesforce.com');
  });

  it("sends the revocation in the token request's body format unless the template names another", () => {
    const base = { ...salesforce, tokenRequest: { bodyFormat: 'json' as const } };
    expect(compileTemplate(base).tokenRequest.revocationBodyFormat).toBe('json');
    expect(compileTemplate(salesforce).tokenRequest.revocationBodyFormat).toBe('form');
    const quickbooksLike = {
      ...salesforce,
      tokenRequest: { bodyFormat: 'form' as const, revocationBodyFormat: 'json' as const },
    };
    expect(validateTemplate(quickbooksLike)).toMatchObject({ ok: true });
    expect(compileTemplate(quickbooksLike).tokenRequest).toMatchObject({
      bodyFormat: 'form',
      revocationBodyFormat: 'json',
    });
  });

  it('keeps Salesforce behaviour: signature, instance_url, issued_at in ms, id URL', () => {
    const compiled = compileTemplate(salesforce);
    expect(compiled.tokenRequest).toMatchObject({
      clientAuthentication: 'client_secret_post',
      bodyFormat: 'form',
    });
    const issuedAt = '1718000000000';
    const id = 'https://login.salesforce.com/id/00Dxx/005xx';
    const response = {
      access_token: '00Dxx!AQ',
      refresh_token: '5Aep',
      instance_url: 'https://acme.my.salesforce.com',
      id,
      issued_at: issuedAt,
      signature: createHmac('sha256', 'secret')
        .update(id + issuedAt)
        .digest('base64'),
      scope: 'api refresh_token',
      token_type: 'Bearer',
    };
    expect(readTokenResponse(compiled.tokenResponse, response)).toEqual({
      accessToken: '00Dxx!AQ',
      refreshToken: '5Aep',
      scope: 'api refresh_token',
      tokenType: 'Bearer',
      metadata: {},
      salesforce: {
        verifySignature: true,
        instanceUrl: 'https://acme.my.salesforce.com',
        issuedAt: 1718000000000,
        identityUrl: id,
      },
    });
  });

  it('reads the legacy tokenResponseStyle "salesforce" the same way', () => {
    const { tokenResponse: _t, ...legacy } = salesforce;
    expect(compileTemplate(legacy).tokenResponse).toEqual(
      compileTemplate(salesforce).tokenResponse,
    );
  });

  it('maps further secrets into credentials and a provider-neutral instance URL', () => {
    const compiled = compileTemplate(
      valid({
        ...salesforce,
        tokenResponseStyle: undefined,
        tokenResponse: {
          accessToken: '$.access_token',
          instanceUrl: '$.api_domain',
          credentials: { userToken: '$.authed_user.access_token' },
        },
      }),
    );
    expect(
      readTokenResponse(compiled.tokenResponse, {
        access_token: 'bot',
        api_domain: 'https://acme.pipedrive.com',
        authed_user: { access_token: 'user' },
      }),
    ).toEqual({
      accessToken: 'bot',
      instanceUrl: 'https://acme.pipedrive.com',
      credentials: { userToken: 'user' },
      metadata: {},
    });
  });

  it('reads expiry as seconds, ISO 8601 or epoch seconds', () => {
    const compiled = compileTemplate(
      valid({
        ...salesforce,
        tokenResponseStyle: undefined,
        tokenResponse: { expiresAt: '$.exp' },
      }),
    );
    expect(
      readTokenResponse(compiled.tokenResponse, { access_token: 'a', exp: 1718000000 }).expiresAt,
    ).toEqual(new Date(1718000000 * 1000));
    expect(
      readTokenResponse(compiled.tokenResponse, { access_token: 'a', exp: '2030-01-01T00:00:00Z' })
        .expiresAt,
    ).toEqual(new Date('2030-01-01T00:00:00Z'));
    expect(() =>
      readTokenResponse(compiled.tokenResponse, { access_token: 'a', exp: 'soon' }),
    ).toThrow(expect.objectContaining({ code: 'template.mapping_type' }));
    const standard = compileTemplate(
      valid({ ...salesforce, tokenResponseStyle: 'standard', tokenResponse: undefined }),
    );
    expect(
      readTokenResponse(standard.tokenResponse, { access_token: 'a', expires_in: 3600 }),
    ).toEqual({
      accessToken: 'a',
      expiresIn: 3600,
      metadata: {},
    });
  });

  it('gives each auth mode its usual proxy Authorization header', () => {
    const base = { key: 'x', provider: 'x', environment: 'production', displayName: 'X' };
    expect(
      effectiveProxyHeaders(
        valid({
          ...base,
          authMode: 'bearer_token',
          credentialFields: [{ key: 'apiKey', label: 'API key' }],
        }),
      ),
    ).toEqual({ Authorization: 'Bearer [[apiKey]]' });
    const basic = compileTemplate(valid({ ...base, authMode: 'basic' }));
    expect(basic.proxyHeaders).toEqual([]);
    expect(
      renderBasicAuthorization(
        basic,
        placeholderValues({ credentials: { username: 'ann', password: 'p:ss' } }),
      ),
    ).toBe(`Basic ${Buffer.from('ann:p:ss').toString('base64')}`);
    expect(() =>
      renderBasicAuthorization(
        basic,
        placeholderValues({ credentials: { username: 'a:b', password: 'x' } }),
      ),
    ).toThrow(expect.objectContaining({ code: 'template.unsafe_value' }));
  });

  it('renders a userDetails request with encoded query, safe headers and a JSON body', () => {
    const compiled = compileTemplate(
      valid({
        key: 'shop',
        provider: 'shop',
        environment: 'production',
        displayName: 'Shop',
        authMode: 'bearer_token',
        connectionConfig: [{ key: 'subdomain', label: 'Shop', type: 'hostname_label' }],
        credentialFields: [{ key: 'apiKey', label: 'API key', secret: true }],
        userDetails: {
          url: 'https://{{subdomain}}.shop.example/api/me',
          method: 'POST',
          headers: { 'X-Api-Key': '[[apiKey]]' },
          query: { shop: '{{subdomain}}' },
          body: { probe: '[[apiKey]]' },
          mapping: { uid: '$.id' },
        },
        apiBaseUrl: 'https://{{subdomain}}.shop.example/api',
        allowedApiHosts: ['*.shop.example'],
      }),
    );
    const values = placeholderValues({
      credentials: { apiKey: 'k"1' },
      configuration: { subdomain: 'acme' },
    });
    expect(renderRequest(compiled.userDetails!, values)).toEqual({
      url: 'https://acme.shop.example/api/me?shop=acme',
      method: 'POST',
      headers: { 'X-Api-Key': 'k"1' },
      body: '{"probe":"k\\"1"}',
      contentType: 'application/json',
    });
    expect(compiled.sensitiveKeys).toEqual(['apiKey']);
  });
});
