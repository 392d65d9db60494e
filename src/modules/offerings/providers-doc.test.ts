import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { repoDirectory } from '../../common/files/repo-directory.js';
import type { ProviderTemplate } from '../providers/templates/index.js';
import { readCatalog } from './offering-catalog.service.js';
import {
  derivedQuirks,
  PROVIDERS_DOC_COMMAND,
  PROVIDERS_DOC_PATH,
  providerRow,
  refreshOf,
  renderProvidersDoc,
} from './providers-doc.js';

const base: ProviderTemplate = {
  key: 'acme',
  provider: 'acme',
  environment: 'production',
  displayName: 'Acme',
  authorizationUrl: 'https://auth.acme.example/authorize',
  tokenUrl: 'https://auth.acme.example/token',
  scopes: { required: ['read'], optional: ['write'] },
};

describe(renderProvidersDoc.name, () => {
  it('writes an intro and one row per offering in key order, after a header row', () => {
    const doc = renderProvidersDoc([
      { ...base, key: 'zeta', displayName: 'Zeta' },
      { ...base, key: 'alpha', displayName: 'Alpha' },
    ]);
    const lines = doc.split('\n');
    expect(lines[0]).toContain(PROVIDERS_DOC_COMMAND);
    expect(doc).toMatch(/Latchkey ships 2 built-in offerings/);
    const table = lines.filter((l) => l.startsWith('|'));
    expect(table[0]).toBe(
      '| Key | Display name | Auth mode | Default scopes | Configuration inputs | Refresh | Quirks | Docs |',
    );
    expect(table.slice(2).map((l) => l.split(' | ')[0])).toEqual(['| `alpha`', '| `zeta`']);
    expect(doc.endsWith('|\n')).toBe(true);
  });
});

describe(providerRow.name, () => {
  it('shows auth mode, default scopes (else the required ones), inputs and the docs link', () => {
    const row = providerRow({
      ...base,
      docsUrl: 'https://developer.acme.example/oauth',
      connectionConfig: [
        { key: 'tenant', label: 'Tenant', default: 'common' },
        { key: 'subdomain', label: 'Shop | subdomain', type: 'hostname_label' },
      ],
    });
    expect(row[2]).toBe('`oauth2`');
    expect(row[3]).toBe('`read`');
    expect(row[4]).toBe('`tenant` (Tenant; default `common`); `subdomain` (Shop \\| subdomain)');
    expect(row[7]).toBe('[docs](https://developer.acme.example/oauth)');
    expect(providerRow({ ...base, scopes: { required: [], optional: [], default: [] } })[3]).toBe(
      '—',
    );
  });

  it('lists pasted credential fields as inputs of bearer_token and basic offerings', () => {
    const row = providerRow({
      key: 'twilio',
      provider: 'twilio',
      environment: 'production',
      displayName: 'Twilio',
      authMode: 'basic',
      credentialFields: [
        { key: 'accountSid', label: 'Account SID' },
        { key: 'authToken', label: 'Auth token', secret: true },
      ],
    });
    expect(row[4]).toBe('pasted `accountSid` (Account SID); pasted `authToken` (Auth token)');
    expect(row[5]).toMatch(/^None: the pasted credentials/);
  });

  it("puts the catalog's quirks before the derived ones, each escaped for the table", () => {
    const row = providerRow({
      ...base,
      tokenRequest: { clientAuthentication: 'client_secret_basic' },
      catalog: { quirks: ['Tokens | never expire', 'Two\nlines'] },
    });
    expect(row[6]).toBe(
      'Tokens \\| never expire; Two lines; PKCE (S256); Basic client authentication',
    );
  });
});

describe(refreshOf.name, () => {
  it("uses the catalog's refresh note first", () => {
    expect(
      refreshOf({ ...base, catalog: { refresh: 'Access tokens last 1 hour; rotating.' } }),
    ).toBe('Access tokens last 1 hour; rotating.');
  });

  it('derives the behaviour from the auth mode otherwise', () => {
    expect(refreshOf(base)).toMatch(/^Refresh-token grant/);
    expect(refreshOf({ ...base, authMode: 'oauth2_client_credentials' })).toMatch(
      /client-credentials grant/,
    );
    expect(refreshOf({ ...base, authMode: 'bearer_token' })).toMatch(/^None/);
  });
});

describe(derivedQuirks.name, () => {
  it('names each fact the template implies', () => {
    const facts = derivedQuirks({
      ...base,
      scopeSeparator: ',',
      authorizationParams: { owner: 'user' },
      tokenRequest: { clientAuthentication: 'client_secret_basic', bodyFormat: 'json' },
      tokenResponse: {
        accessToken: '$.authed_user.access_token',
        refreshToken: '$.refresh_token',
        instanceUrl: '$.api_domain',
        credentials: { botToken: '$.access_token' },
      },
      callbackParams: { realmId: 'realmId' },
      registrationRequests: [
        {
          url: 'https://api.acme.example/resources',
          mapping: { metadata: { cloudId: '$[0].id', siteUrl: '$[0].url' } },
        },
      ],
      proxyHeaders: { Authorization: 'Bearer [[accessToken]]', 'Acme-Version': '2024-01-01' },
      proxyQuery: { format: 'json' },
    });
    expect(facts).toEqual([
      'Scopes joined by `,`',
      'Authorization parameters `owner=user`',
      'PKCE (S256)',
      'Basic client authentication',
      'JSON token request body',
      'Nested token mapping: accessToken at `$.authed_user.access_token`',
      'Also keeps credential `botToken` from `$.access_token`',
      'API origin from the token response (`$.api_domain`)',
      'Callback parameter `realmId` (required) → metadata `realmId`',
      'Registration request GET `https://api.acme.example/resources` → metadata `cloudId`, `siteUrl`',
      'Proxy header `Acme-Version: 2024-01-01`',
      'Proxy query parameter `format=json`',
    ]);
  });

  it('says nothing of PKCE or client authentication where the auth mode has neither', () => {
    expect(derivedQuirks({ ...base, pkce: 'none' })).toEqual([]);
    expect(
      derivedQuirks({
        key: 'stripe',
        provider: 'stripe',
        environment: 'production',
        displayName: 'Stripe',
        authMode: 'bearer_token',
        proxyHeaders: { Authorization: 'Bearer [[apiKey]]' },
      }),
    ).toEqual([]);
  });
});

describe(PROVIDERS_DOC_PATH, () => {
  it('is up to date with offerings/*.json', async () => {
    const committed = await readFile(
      `${repoDirectory('docs', 'The operator documentation')}/providers.md`,
      'utf8',
    ).catch(() => '');
    expect(
      committed === renderProvidersDoc(await readCatalog()),
      `${PROVIDERS_DOC_PATH} is out of date with offerings/*.json: run \`${PROVIDERS_DOC_COMMAND}\` and commit the result.`,
    ).toBe(true);
  });
});
