import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { isBlockedAddress } from '../../common/http/address-guard.js';
import { hostMatches } from '../../common/http/url-policy.js';
import { ProxyError } from './proxy.errors.js';

/**
 * The proxy's path and header policy: pure functions of their arguments, so every rule is
 * unit-tested on its own (proxy-path.test.ts). Where a call may go, and what it may carry.
 */

/** An API base: its origin and its path without trailing slashes. */
export interface ApiBase {
  origin: string;
  path: string;
}

/** Where a proxied call goes: undici's origin and request-target. */
export interface ProxyTarget {
  origin: string;
  path: string;
}

/** Why an API base's host may not be reached. */
export type DestinationProblem = 'host_not_allowed' | 'private_address' | null;

/** Never forwarded upstream: hop-by-hop, the caller's own credentials, and Latchkey's headers. */
const DROP_REQUEST = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'authorization',
  'cookie',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'x-csrf-token',
  'expect',
  'http2-settings',
]);
/** A scheme at the start of the path ("/https:…"): an absolute URL in disguise. */
const ABSOLUTE = /^\/[a-z][a-z0-9+.-]*:/i;
const FORBIDDEN_IN_PATH = /\\|%5c|%2f|%00|#/i;
/** A segment that decodes to "." or "..": "/./", "/%2e%2e", "/.%2E/", … (also at the end). */
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?=\/|$)/i;

export function apiBaseOf(url: URL): ApiBase {
  return { origin: url.origin, path: url.pathname.replace(/\/+$/, '') };
}

/**
 * Whether the base's host may be reached: it must match the offering's allowed host patterns,
 * and (unless private addresses are allowed) not be a private, loopback or link-local IP literal.
 */
export function destinationProblemOf(
  url: URL,
  allowedHosts: readonly string[],
  blockPrivateAddresses: boolean,
): DestinationProblem {
  const host = url.hostname.toLowerCase();
  const literal = host.replace(/^\[|\]$/g, '');
  if (!hostMatches(host, url.port, allowedHosts)) return 'host_not_allowed';
  if (blockPrivateAddresses && isIP(literal) && isBlockedAddress(literal)) return 'private_address';
  return null;
}

/**
 * The upstream request for `afterId`, what follows the connection id in the proxy URL
 * (`/{path}?{query}`): the base's origin, and its path followed by the caller's path and query
 * exactly as received (still encoded). The path can never leave the base: it must start with "/",
 * and no segment may be "." or ".." (plain or percent-encoded), nor contain an encoded slash, a
 * backslash or NUL, nor an "@" in its first segment.
 */
export function proxyTarget(base: ApiBase, afterId: string): ProxyTarget {
  const q = afterId.indexOf('?');
  const rawPath = q >= 0 ? afterId.slice(0, q) : afterId;
  if (rawPath.charCodeAt(0) !== 47 /* / */)
    throw ProxyError.invalidPath('a path must follow the connection id');
  if (rawPath.charCodeAt(1) === 47 || ABSOLUTE.test(rawPath))
    throw ProxyError.invalidPath('absolute URLs are not allowed');
  if (FORBIDDEN_IN_PATH.test(rawPath))
    throw ProxyError.invalidPath('encoded slashes, backslashes, NUL and "#" are not allowed');
  const firstEnd = rawPath.indexOf('/', 1);
  if ((firstEnd < 0 ? rawPath : rawPath.slice(0, firstEnd)).includes('@'))
    throw ProxyError.invalidPath('"@" is not allowed in the first segment');
  if (DOT_SEGMENT.test(rawPath))
    throw ProxyError.invalidPath('"." and ".." segments are not allowed');
  if (rawPath.includes('%')) {
    try {
      decodeURIComponent(rawPath);
    } catch {
      throw ProxyError.invalidPath('malformed percent-encoding');
    }
  }
  return { origin: base.origin, path: base.path + afterId };
}

/**
 * The caller's headers that go upstream: none that are hop-by-hop (including those named in
 * `Connection`), none of the caller's own credentials, none of Latchkey's.
 */
export function forwardHeaders(
  incoming: IncomingMessage['headers'],
): Record<string, string | string[]> {
  // Headers named in `Connection` are hop-by-hop too (RFC 9110 §7.6.1).
  const listed = incoming.connection;
  const connectionListed =
    listed && listed !== 'keep-alive' && listed !== 'close'
      ? new Set(listed.split(',').map((h) => h.trim().toLowerCase()))
      : undefined;
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || DROP_REQUEST.has(name) || connectionListed?.has(name)) continue;
    if (name.startsWith('latchkey-') || name.startsWith('x-latchkey-') || name.startsWith('proxy-'))
      continue;
    out[name] = value;
  }
  return out;
}
