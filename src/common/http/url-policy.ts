import { isIP } from 'node:net';
import { isLoopbackHost } from '../../config/config.js';
import { isBlockedAddress } from './address-guard.js';

/**
 * Whether a provider-facing URL is acceptable: absolute https, or http on a loopback host when
 * insecure providers are allowed (tests and the demo). Returns the problem, or null.
 */
export function providerUrlProblem(value: string, allowInsecure: boolean): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password) return 'must not contain credentials';
  if (url.hash) return 'must not contain a fragment';
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  // IP literals skip the DNS lookup that guards outbound connections: check them here.
  if (!allowInsecure && isIP(literal) && isBlockedAddress(literal))
    return 'must not be a private, loopback or link-local address';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && allowInsecure && isLoopbackHost(url.hostname)) return null;
  return allowInsecure ? 'must use https (http only on loopback hosts)' : 'must use https';
}

/**
 * Host patterns the proxy may reach: `api.example.com`, `*.example.com` (any subdomain, not the
 * apex), optionally with `:port`. Returns the problem, or null.
 */
export function hostPatternProblem(pattern: string): string | null {
  const m = /^(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::(\d{1,5}))?$/.exec(pattern);
  if (!m) return 'must be a host name, optionally starting with "*." and ending with ":port"';
  if (
    m[2]
      .split('.')
      .some((label) => label.length > 63 || label.startsWith('-') || label.endsWith('-'))
  ) {
    return 'has an invalid host label';
  }
  if (m[1] && !m[2].includes('.')) return 'wildcards must cover a domain with at least two labels';
  if (m[3] && (Number(m[3]) < 1 || Number(m[3]) > 65535)) return 'has an invalid port';
  return null;
}

/** Does `host` (lower-case, with optional `:port`) match one of the patterns? */
export function hostMatches(
  host: string,
  port: string | undefined,
  patterns: readonly string[],
): boolean {
  return patterns.some((pattern) => {
    const [p, pPort] = pattern.split(':');
    if (pPort !== undefined ? pPort !== (port ?? '') : port !== undefined && port !== '')
      return false;
    if (p.startsWith('*.')) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
    return host === p;
  });
}
