import { describe, expect, it } from 'vitest';
import { CLI_CLIENT, redirectUriAllowed, redirectUriProblem } from './oauth-clients.js';

describe(redirectUriAllowed.name, () => {
  const registered = ['https://app.example.com/oauth/callback', 'http://127.0.0.1/cb'];

  it('accepts a registered URI exactly as registered', () => {
    expect(redirectUriAllowed(registered, 'https://app.example.com/oauth/callback')).toBe(true);
  });

  it.each([
    ['a trailing slash', 'https://app.example.com/oauth/callback/'],
    ['another case in the path', 'https://app.example.com/OAuth/callback'],
    ['another case in the host', 'https://App.example.com/oauth/callback'],
    ['an extra query', 'https://app.example.com/oauth/callback?x=1'],
    ['an empty query', 'https://app.example.com/oauth/callback?'],
    ['a fragment', 'https://app.example.com/oauth/callback#x'],
    ['userinfo', 'https://evil@app.example.com/oauth/callback'],
    ['a port on a non-loopback host', 'https://app.example.com:8443/oauth/callback'],
    ['http for https', 'http://app.example.com/oauth/callback'],
    ['a sibling host', 'https://app.example.com.evil.test/oauth/callback'],
    ['a path below', 'https://app.example.com/oauth/callback/more'],
    ['an encoded path', 'https://app.example.com/oauth%2Fcallback'],
    ['nothing', ''],
  ])('refuses %s', (_what, uri) => expect(redirectUriAllowed(registered, uri)).toBe(false));

  it('ignores the port of a loopback IP literal over http (RFC 8252 §7.3), nothing else', () => {
    expect(redirectUriAllowed(registered, 'http://127.0.0.1:51234/cb')).toBe(true);
    expect(redirectUriAllowed(registered, 'http://127.0.0.1/cb')).toBe(true);
    expect(redirectUriAllowed(registered, 'http://127.0.0.1:51234/cb/')).toBe(false);
    expect(redirectUriAllowed(registered, 'http://127.0.0.1:51234/other')).toBe(false);
    expect(redirectUriAllowed(registered, 'http://127.0.0.1:0/cb')).toBe(false);
    expect(redirectUriAllowed(registered, 'http://127.0.0.1:70000/cb')).toBe(false);
    expect(redirectUriAllowed(registered, 'http://localhost:51234/cb')).toBe(false);
    expect(redirectUriAllowed(registered, 'http://[::1]:51234/cb')).toBe(false);
    expect(redirectUriAllowed(registered, 'https://127.0.0.1:51234/cb')).toBe(false);
    expect(redirectUriAllowed(registered, 'http://127.0.0.1@evil.test:51234/cb')).toBe(false);
    expect(redirectUriAllowed(registered, 'http://127.0.0.1:51234/cb#x')).toBe(false);
  });

  it('lets the CLI client use either loopback address on any port, and only its path', () => {
    expect(redirectUriAllowed(CLI_CLIENT.redirectUris, 'http://127.0.0.1:8123/callback')).toBe(
      true,
    );
    expect(redirectUriAllowed(CLI_CLIENT.redirectUris, 'http://[::1]:8123/callback')).toBe(true);
    expect(redirectUriAllowed(CLI_CLIENT.redirectUris, 'http://127.0.0.2:8123/callback')).toBe(
      false,
    );
    expect(redirectUriAllowed(CLI_CLIENT.redirectUris, 'http://127.0.0.1:8123/')).toBe(false);
    // A port a browser would write otherwise: 00080 reaches the client as port 80.
    expect(redirectUriAllowed(CLI_CLIENT.redirectUris, 'http://127.0.0.1:08123/callback')).toBe(
      false,
    );
  });
});

describe(redirectUriProblem.name, () => {
  it.each([
    'https://app.example.com/oauth/callback',
    'https://app.example.com:8443/cb?tenant=a',
    'http://127.0.0.1/callback',
    'http://127.0.0.1:8080/callback',
    'http://[::1]/callback',
  ])('accepts %s', (uri) => expect(redirectUriProblem(uri)).toBeNull());

  it.each([
    ['not a URI', 'app.example.com/cb', /absolute/],
    ['relative', '/oauth/callback', /absolute/],
    ['http on a public host', 'http://app.example.com/cb', /https/],
    ['http on localhost by name', 'http://localhost:8080/cb', /127\.0\.0\.1/],
    ['another scheme', 'ftp://app.example.com/cb', /https/],
    ['a custom scheme', 'com.example.app:/cb', /https/],
    ['a javascript URI', 'javascript:alert(1)', /https/],
    ['a fragment', 'https://app.example.com/cb#frag', /fragment/],
    ['an empty fragment', 'https://app.example.com/cb#', /fragment/],
    ['userinfo', 'https://user:pw@app.example.com/cb', /user/],
    ['a wildcard host', 'https://*.example.com/cb', /wildcard/],
    ['a wildcard path', 'https://app.example.com/cb/*', /wildcard/],
    ['a non-canonical spelling', 'HTTPS://App.Example.com/cb', /https:\/\/app\.example\.com\/cb/],
    ['a missing path', 'https://app.example.com', /https:\/\/app\.example\.com\//],
    ['dot segments', 'https://app.example.com/a/../cb', /https:\/\/app\.example\.com\/cb/],
    ['whitespace', 'https://app.example.com/c b', /written/],
    ['too long', `https://app.example.com/${'a'.repeat(2000)}`, /2000/],
    ['a code in the query', 'https://app.example.com/cb?code=x', /code in its query/],
    ['an error in the query', 'https://app.example.com/cb?a=1&error=x', /error in its query/],
    ['an iss in the query', 'https://app.example.com/cb?iss=x', /iss in its query/],
  ])('refuses %s', (_what, uri, message) => expect(redirectUriProblem(uri)).toMatch(message));
});
