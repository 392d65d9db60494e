import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { apiBaseOf, destinationProblemOf, forwardHeaders, proxyTarget } from './proxy-path.js';

const base = apiBaseOf(new URL('https://acme.my.salesforce.com/services/'));

describe(apiBaseOf.name, () => {
  it('keeps the origin and the path without trailing slashes', () => {
    expect(base).toEqual({ origin: 'https://acme.my.salesforce.com', path: '/services' });
    expect(apiBaseOf(new URL('https://api.example.com'))).toEqual({
      origin: 'https://api.example.com',
      path: '',
    });
  });
});

describe(proxyTarget.name, () => {
  it('appends the path and query exactly as received, still encoded', () => {
    expect(proxyTarget(base, '/data/v62.0/query?q=SELECT%20Id%20FROM%20Account&x=%2F')).toEqual({
      origin: 'https://acme.my.salesforce.com',
      path: '/services/data/v62.0/query?q=SELECT%20Id%20FROM%20Account&x=%2F',
    });
    expect(proxyTarget(base, '/a%20b/c')).toEqual({
      origin: 'https://acme.my.salesforce.com',
      path: '/services/a%20b/c',
    });
  });

  it.each([
    ['no path after the id', '', /a path must follow/],
    ['a query right after the id', '?q=1', /a path must follow/],
    ['a protocol-relative URL', '//evil.example/x', /absolute URLs/],
    ['an absolute URL', '/https://evil.example/x', /absolute URLs/],
    ['a dot-dot segment', '/data/../../admin', /"\." and "\.\." segments/],
    ['an encoded dot-dot segment', '/data/%2e%2E/admin', /"\." and "\.\." segments/],
    ['a dot segment at the end', '/data/.', /"\." and "\.\." segments/],
    ['an encoded slash', '/data%2f..%2fadmin', /encoded slashes/],
    ['a backslash', '/data\\..\\admin', /encoded slashes/],
    ['an encoded backslash', '/data%5c', /encoded slashes/],
    ['an encoded NUL', '/data%00', /encoded slashes/],
    ['a fragment', '/data#frag', /encoded slashes/],
    ['userinfo in the first segment', '/user@evil.example/x', /"@" is not allowed/],
    ['malformed percent-encoding', '/data/%E0%A4%A', /malformed percent-encoding/],
  ])('refuses %s', (_why, afterId, message) => {
    expect(() => proxyTarget(base, afterId)).toThrow(message);
  });

  it('allows "@" and dots inside later segments and in the query', () => {
    expect(proxyTarget(base, '/users/a@b.example/v1.2?next=../x').path).toBe(
      '/services/users/a@b.example/v1.2?next=../x',
    );
  });
});

describe(destinationProblemOf.name, () => {
  it('allows a host that matches the patterns, with a wildcard for subdomains', () => {
    const url = new URL('https://acme.my.salesforce.com/');
    expect(destinationProblemOf(url, ['*.my.salesforce.com'], true)).toBeNull();
    expect(destinationProblemOf(url, ['login.salesforce.com'], true)).toBe('host_not_allowed');
  });

  it('refuses a private address unless private addresses are allowed', () => {
    const url = new URL('http://127.0.0.1:8080/');
    expect(destinationProblemOf(url, ['127.0.0.1:8080'], true)).toBe('private_address');
    expect(destinationProblemOf(url, ['127.0.0.1:8080'], false)).toBeNull();
    expect(destinationProblemOf(new URL('https://10.0.0.5/'), ['10.0.0.5'], true)).toBe(
      'private_address',
    );
  });
});

describe(forwardHeaders.name, () => {
  const headers = (h: Record<string, string | string[]>) => h as IncomingMessage['headers'];

  it("drops hop-by-hop headers, the caller's credentials and Latchkey's own headers", () => {
    expect(
      forwardHeaders(
        headers({
          accept: 'application/json',
          'content-type': 'application/json',
          authorization: 'Bearer latchkey-api-token',
          cookie: 'latchkey_session=x',
          'x-csrf-token': 't',
          host: 'latchkey.example.com',
          connection: 'keep-alive',
          'keep-alive': 'timeout=5',
          'transfer-encoding': 'chunked',
          'proxy-authorization': 'Basic x',
          'latchkey-debug': '1',
          'x-latchkey-trace': '1',
          'sforce-call-options': 'client=x',
        }),
      ),
    ).toEqual({
      accept: 'application/json',
      'content-type': 'application/json',
      'sforce-call-options': 'client=x',
    });
  });

  it('drops the headers that Connection names', () => {
    expect(
      forwardHeaders(headers({ connection: 'close, X-Secret-Hop', 'x-secret-hop': '1', a: 'b' })),
    ).toEqual({ a: 'b' });
  });
});
