import { describe, expect, it } from 'vitest';
import { hostMatches, hostPatternProblem, providerUrlProblem } from './url-policy.js';

describe(providerUrlProblem.name, () => {
  it('accepts https and refuses http unless insecure providers are allowed on loopback', () => {
    expect(
      providerUrlProblem('https://login.salesforce.com/services/oauth2/token', false),
    ).toBeNull();
    expect(providerUrlProblem('http://login.example.com/token', false)).toMatch(/https/);
    expect(providerUrlProblem('http://127.0.0.1:9000/token', true)).toBeNull();
    expect(providerUrlProblem('http://10.0.0.5/token', true)).toMatch(/loopback/);
  });

  it.each([
    'https://10.0.0.5/token',
    'https://127.0.0.1/token',
    'https://169.254.169.254/latest',
    'https://[::1]/token',
    'https://192.168.1.10:8443/x',
  ])('refuses the private or loopback IP literal %s (no DNS lookup would catch it)', (url) =>
    expect(providerUrlProblem(url, false)).toMatch(/private, loopback or link-local/),
  );

  it('refuses credentials and fragments', () => {
    expect(providerUrlProblem('https://u:p@example.com/t', false)).toMatch(/credentials/);
    expect(providerUrlProblem('https://example.com/t#x', false)).toMatch(/fragment/);
  });
});

describe(hostMatches.name, () => {
  const patterns = ['*.my.salesforce.com', 'api.example.com', 'local.test:8443'];
  it.each([
    ['acme.my.salesforce.com', undefined, true],
    ['a.b.my.salesforce.com', undefined, true],
    ['my.salesforce.com', undefined, false],
    ['evil-my.salesforce.com', undefined, false],
    ['api.example.com', undefined, true],
    ['api.example.com', '8443', false],
    ['local.test', '8443', true],
    ['local.test', undefined, false],
  ] as const)('%s:%s → %s', (host, port, expected) =>
    expect(hostMatches(host, port, patterns)).toBe(expected),
  );
});

describe(hostPatternProblem.name, () => {
  it.each(['*', '*.com', 'https://x.com', 'a..b', '-a.com', 'x.com:70000'])('refuses %s', (p) =>
    expect(hostPatternProblem(p)).not.toBeNull(),
  );
  it.each(['*.force.com', 'api.example.com', '127.0.0.1:3000'])('accepts %s', (p) =>
    expect(hostPatternProblem(p)).toBeNull(),
  );
});
