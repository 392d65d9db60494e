import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FakeProviderFixture } from '../../../tools/providers/fake/fixture.js';
import { airtable } from '../../../tools/providers/fixtures/airtable.js';
import { asana } from '../../../tools/providers/fixtures/asana.js';
import { atlassian } from '../../../tools/providers/fixtures/atlassian.js';
import { box } from '../../../tools/providers/fixtures/box.js';
import { docusign } from '../../../tools/providers/fixtures/docusign.js';
import { dropbox } from '../../../tools/providers/fixtures/dropbox.js';
import { github } from '../../../tools/providers/fixtures/github.js';
import { gitlab } from '../../../tools/providers/fixtures/gitlab.js';
import { google } from '../../../tools/providers/fixtures/google.js';
import { hubspot } from '../../../tools/providers/fixtures/hubspot.js';
import { intercom } from '../../../tools/providers/fixtures/intercom.js';
import { linear } from '../../../tools/providers/fixtures/linear.js';
import { microsoft } from '../../../tools/providers/fixtures/microsoft.js';
import { notion } from '../../../tools/providers/fixtures/notion.js';
import { openai } from '../../../tools/providers/fixtures/openai.js';
import { paypal } from '../../../tools/providers/fixtures/paypal.js';
import { pipedrive } from '../../../tools/providers/fixtures/pipedrive.js';
import { quickbooks } from '../../../tools/providers/fixtures/quickbooks.js';
import { shopify } from '../../../tools/providers/fixtures/shopify.js';
import { slack } from '../../../tools/providers/fixtures/slack.js';
import { stripe } from '../../../tools/providers/fixtures/stripe.js';
import { twilio } from '../../../tools/providers/fixtures/twilio.js';
import { xero } from '../../../tools/providers/fixtures/xero.js';
import { zendesk } from '../../../tools/providers/fixtures/zendesk.js';
import { zoom } from '../../../tools/providers/fixtures/zoom.js';
import { validateTemplate } from '../providers/templates/index.js';
import type { AuthModeName, ProviderTemplate } from '../providers/templates/template.schema.js';
import { catalogDirectory } from './offering-catalog.service.js';

/**
 * The built-in catalog (offerings/*.json) as data: every file is a valid provider template, and
 * where a fake provider fixture reproduces the same provider, the template's endpoints are the
 * fixture's — so a template and the fake its contract test runs against cannot drift apart.
 */

const FIXTURES: readonly FakeProviderFixture[] = [
  airtable,
  asana,
  atlassian,
  box,
  docusign,
  dropbox,
  github,
  gitlab,
  google,
  hubspot,
  intercom,
  linear,
  microsoft,
  notion,
  openai,
  paypal,
  pipedrive,
  quickbooks,
  shopify,
  slack,
  stripe,
  twilio,
  xero,
  zendesk,
  zoom,
];

/**
 * Providers whose fixture identity route the template cannot call yet, and why. Each entry is
 * checked to still be a gap, so that the list shrinks when the engine learns what is missing.
 */
const IDENTITY_GAPS: Readonly<Record<string, string>> = {};

const AUTH_MODES: readonly AuthModeName[] = [
  'oauth2',
  'oauth2_client_credentials',
  'bearer_token',
  'basic',
];

interface CatalogFile {
  file: string;
  raw: unknown;
  template: ProviderTemplate;
}

function readCatalog(): CatalogFile[] {
  const dir = catalogDirectory();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const raw: unknown = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
      return { file, raw, template: raw as ProviderTemplate };
    });
}

const PLACEHOLDER = /\{\{[^}]*\}\}|\[\[[^\]]*\]\]/g;
/** Stands for a placeholder's value in a template path; no literal segment contains it. */
const VALUE = '\u0000';

/**
 * A template URL's path as segments. The fake serves every host at one origin, writing a
 * per-tenant host (`{{subdomain}}.zendesk.com`) as a leading path segment; `{{instance_url}}` is
 * an origin, which the fake answers under a name of its own (Pipedrive's `localhost`).
 */
function templatePathSegments(url: string): string[] {
  const marked = url.replace(PLACEHOLDER, VALUE);
  let rest: string;
  const prefix: string[] = [];
  if (url.startsWith('{{instance_url}}')) {
    // An origin (the engine refuses a path in it): the fake answers it as a host of its own.
    rest = marked.slice(1);
  } else {
    const afterScheme = marked.replace(/^https?:\/\//, '');
    const slash = afterScheme.search(/[/?]/);
    const host = slash === -1 ? afterScheme : afterScheme.slice(0, slash);
    if (host.includes(VALUE)) prefix.push(VALUE);
    rest = slash === -1 ? '' : afterScheme.slice(slash);
  }
  const pathOnly = rest.split('?')[0];
  return [...prefix, ...pathOnly.split('/').filter(Boolean)];
}

/** Whether a template URL lands on a fixture route path (`{name}` matches any one segment). */
function pathMatches(templateUrl: string, fixturePath: string): boolean {
  const want = fixturePath.split('/').filter(Boolean);
  const got = templatePathSegments(templateUrl);
  if (want.length !== got.length) return false;
  return want.every((segment, i) => {
    const pattern = segment
      .split(/(\{[^}]+\})/)
      .map((part) =>
        /^\{[^}]+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('');
    return new RegExp(`^${pattern}$`).test(got[i]);
  });
}

/** URLs of the requests that can establish or verify who the connection belongs to. */
function identityUrls(t: ProviderTemplate): string[] {
  return [
    t.userDetails?.url,
    t.userinfoUrl,
    ...(t.registrationRequests ?? []).map((r) => r.url),
  ].filter((u): u is string => u !== undefined);
}

describe('built-in catalog files', () => {
  const catalog = readCatalog();

  it('holds at least 25 offerings', () => {
    expect(catalog.length).toBeGreaterThanOrEqual(25);
  });

  it.each(catalog.map((c) => [c.file, c] as const))('%s is a valid provider template', (_, c) => {
    const result = validateTemplate(c.raw);
    // The problems themselves, with their JSON Pointers, are what a failure should show.
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it.each(catalog.map((c) => [c.file, c] as const))(
    '%s is named <provider>[-<environment>] after its key and cites its docs',
    (file, { template: t }) => {
      expect(file).toBe(`${t.key}.json`);
      expect([t.provider, `${t.provider}-${t.environment}`]).toContain(t.key);
      expect(t.docsUrl).toMatch(/^https:\/\//);
      expect(t.apiBaseUrl ?? t.allowedApiHosts).toBeDefined();
    },
  );

  it('has unique keys and represents every auth mode', () => {
    const keys = catalog.map((c) => c.template.key);
    expect(new Set(keys).size).toBe(keys.length);
    const modes = new Set(catalog.map((c) => c.template.authMode ?? 'oauth2'));
    expect([...modes].sort()).toEqual([...AUTH_MODES].sort());
  });

  it('has a catalog file for every provider with a fixture', () => {
    const providers = new Set(catalog.map((c) => c.template.provider));
    for (const fixture of FIXTURES) expect(providers).toContain(fixture.name);
  });

  describe.each(FIXTURES.map((f) => [f.name, f] as const))(
    'agrees with the %s fixture',
    (name, fixture) => {
      const templates = catalog.filter((c) => c.template.provider === name).map((c) => c.template);

      it('on the authorization and token endpoints', () => {
        for (const t of templates) {
          if (fixture.authorize)
            expect(
              t.authorizationUrl && pathMatches(t.authorizationUrl, fixture.authorize.path),
              `${t.key}: authorizationUrl ${t.authorizationUrl} vs fixture ${fixture.authorize.path}`,
            ).toBe(true);
          if (fixture.token)
            expect(
              t.tokenUrl && pathMatches(t.tokenUrl, fixture.token.path),
              `${t.key}: tokenUrl ${t.tokenUrl} vs fixture ${fixture.token.path}`,
            ).toBe(true);
          if (fixture.revoke && t.revocationUrl)
            expect(
              pathMatches(t.revocationUrl, fixture.revoke.path),
              `${t.key}: revocationUrl ${t.revocationUrl} vs fixture ${fixture.revoke.path}`,
            ).toBe(true);
        }
      });

      it('on the identity request', () => {
        const identity = fixture.identity;
        if (!identity) return;
        for (const t of templates) {
          const urls = identityUrls(t);
          const matched = urls.some((u) => pathMatches(u, identity.path));
          if (IDENTITY_GAPS[name]) {
            expect(matched, `${t.key}: gap "${IDENTITY_GAPS[name]}" is closed; drop it`).toBe(
              false,
            );
          } else if (t.tokenResponse?.uid && !t.userDetails) {
            // Identity from the token response (Slack, Notion): nothing to call.
            expect(t.tokenResponse.uid).toMatch(/^\$/);
          } else {
            expect(
              matched,
              `${t.key}: none of ${JSON.stringify(urls)} is the fixture's ${identity.path}`,
            ).toBe(true);
          }
        }
      });
    },
  );
});

describe(pathMatches.name, () => {
  it('matches a per-tenant host against the leading segment and {name} against any value', () => {
    expect(
      pathMatches(
        'https://{{shop}}.myshopify.com/admin/api/2025-07/shop.json',
        '/{shop}/admin/api/{version}/shop.json',
      ),
    ).toBe(true);
    expect(
      pathMatches(
        'https://api.twilio.com/2010-04-01/Accounts/[[accountSid]].json',
        '/2010-04-01/Accounts/{AccountSid}.json',
      ),
    ).toBe(true);
    expect(pathMatches('{{instance_url}}/api/v1/users/me', '/api/v1/users/me')).toBe(true);
  });

  it('refuses a different path, a placeholder where the fixture has a literal, or a missing tenant', () => {
    expect(pathMatches('https://api.example.com/v1/me', '/v2/me')).toBe(false);
    expect(pathMatches('https://api.example.com/v1/[[id]]', '/v1/me')).toBe(false);
    expect(
      pathMatches('https://example.zendesk.com/api/v2/users/me', '/{subdomain}/api/v2/users/me'),
    ).toBe(false);
    expect(pathMatches('https://api.example.com/oauth/token?x=1', '/oauth/token')).toBe(true);
  });
});
