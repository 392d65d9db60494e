import { isIP } from 'node:net';
import { type Readable, Transform } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import { Repository } from 'typeorm';
import type { Dispatcher } from 'undici';
import { APP_CONFIG } from '../../app.tokens.js';
import type { Principal } from '../../common/auth/principal.js';
import { DomainError } from '../../common/errors/domain-error.js';
import { writeError } from '../../common/errors/http-error.filter.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { InvalidatingCache } from '../../common/events/invalidating-cache.js';
import { isBlockedAddress } from '../../common/http/address-guard.js';
import { OutboundHttp } from '../../common/http/outbound-http.js';
import { LOGGER } from '../../common/logging/logger.js';
import { hostMatches } from '../../common/http/url-policy.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { Connection, ConnectionStatus } from '../connections/connection.entity.js';
import { ConnectionError } from '../connections/connections.errors.js';
import { ConnectionsService } from '../connections/connections.service.js';
import { MetricsService } from '../health/metrics.service.js';
import { Integration } from '../integrations/integration.entity.js';
import { OfferingsService } from '../offerings/offerings.service.js';
import { TokenRefreshService } from '../token-refresh/token-refresh.service.js';
import { PROXY_PREFIX } from './proxy.constants.js';
import { ProxyError } from './proxy.errors.js';

/** What a proxied call needs about a connection, kept in memory between calls. */
interface ConnectionRuntime {
  id: string;
  workspaceId: string;
  integrationId: string;
  offeringId: string;
  status: ConnectionStatus;
  credentialsVersion: number;
  /** The upstream `Authorization` value, `Bearer <access token>`, made once per token. */
  authorization: string | null;
  expiresAtMs: number;
  /** Resolved API base (template applied): its origin and its path without trailing slashes. */
  base: { origin: string; path: string } | null;
  /** Why the base's host may not be reached (checked once, when the runtime is built). */
  destinationProblem: 'host_not_allowed' | 'private_address' | null;
}

/** Where a proxied call goes: undici's origin and request-target. */
export interface ProxyTarget {
  origin: string;
  path: string;
}

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
/**
 * Never passed back: hop-by-hop, and the provider's cookies for the end user's session. (`Trailer`
 * is not hop-by-hop: it announces trailers, which are passed back too.)
 */
const DROP_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'upgrade',
  'proxy-authenticate',
  'proxy-connection',
  'set-cookie',
]);
/** A scheme at the start of the path ("/https:…"): an absolute URL in disguise. */
const ABSOLUTE = /^\/[a-z][a-z0-9+.-]*:/i;
const FORBIDDEN_IN_PATH = /\\|%5c|%2f|%00|#/i;
/** A segment that decodes to "." or "..": "/./", "/%2e%2e", "/.%2E/", … (also at the end). */
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?=\/|$)/i;
const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);
/** Refresh before forwarding when the token expires sooner than this. */
const REFRESH_AHEAD_MS = 30_000;
/** After an upstream 401, no refresh for a token younger than this: a new one would not help. */
const RECENT_REFRESH_MS = 10_000;

/**
 * `ANY /api/v1/proxy/{connectionId}/{path}`: forwards to the connection's API base with its access
 * token, streaming both ways. A warm call makes no database round trip: connection, offering
 * and decrypted token are cached per process and dropped on any change announced by any replica.
 */
@Injectable()
export class ProxyService {
  private readonly runtimes: InvalidatingCache<ConnectionRuntime | null>;
  private readonly overhead: Histogram;
  private readonly upstreamTime: Histogram;
  private readonly refreshOn401: Counter;
  private readonly debug: boolean;

  constructor(
    @InjectRepository(Connection) private readonly connections: Repository<Connection>,
    @InjectRepository(Integration) private readonly integrations: Repository<Integration>,
    private readonly connectionsService: ConnectionsService,
    private readonly offerings: OfferingsService,
    private readonly refresher: TokenRefreshService,
    private readonly http: OutboundHttp,
    private readonly clock: Clock,
    changes: ChangeFeed,
    metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    const byField =
      (field: 'integrationId' | 'offeringId') =>
      (id: string, entries: ReadonlyMap<string, ConnectionRuntime | null>) =>
        [...entries].filter(([, v]) => v?.[field] === id).map(([k]) => k);
    this.runtimes = new InvalidatingCache(changes, 'connection', 100_000, [
      { kind: 'integration', keys: byField('integrationId') },
      { kind: 'offering', keys: byField('offeringId') },
    ]);
    const buckets = [
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
      10,
    ];
    this.overhead = new Histogram({
      name: 'latchkey_proxy_overhead_seconds',
      help: "Latchkey's own time per proxied call (excluding the upstream)",
      buckets,
      registers: [metrics.registry],
    });
    this.upstreamTime = new Histogram({
      name: 'latchkey_proxy_upstream_seconds',
      help: 'Upstream time to response headers per proxied call',
      buckets,
      registers: [metrics.registry],
    });
    this.refreshOn401 = new Counter({
      name: 'latchkey_proxy_refresh_on_401_total',
      help: 'Refreshes triggered by an upstream 401',
      registers: [metrics.registry],
    });
    this.debug = logger.isLevelEnabled('debug');
  }

  /**
   * Forwards one call and answers it, whatever happens: the upstream's response, or an error body
   * when the call fails before the response started. A warm call (connection cached, token not
   * about to expire, no body to read first) goes from here to undici and back to `res` through
   * plain callbacks, without a promise or a per-call closure; anything else (first call, refresh
   * ahead of expiry, a small body kept for replay, a 401) takes a promise on the way.
   */
  forward(
    principal: Principal,
    connectionId: string,
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
  ): void {
    const started = process.hrtime.bigint();
    const cached = this.runtimes.peek(connectionId);
    if (cached === undefined) {
      this.load(connectionId)
        .then((loaded) => this.forwardWith(loaded, principal, req, res, requestId, started))
        .catch((error: unknown) => this.fail(error, req, res, requestId));
      return;
    }
    try {
      this.forwardWith(cached, principal, req, res, requestId, started);
    } catch (error) {
      this.fail(error, req, res, requestId);
    }
  }

  /**
   * Answers a call that failed before its response started with the error body (the one error
   * mapper), or cuts the connection when the response had started. Upstream failures and anything
   * unexpected are logged, by code only: an error here never carries a token.
   */
  fail(error: unknown, req: IncomingMessage, res: ServerResponse, requestId: string): void {
    if (
      !(error instanceof DomainError) ||
      error.kind === 'upstream' ||
      error.kind === 'upstream_timeout'
    ) {
      this.logger.warn(
        { requestId, method: req.method, code: (error as DomainError).code },
        'proxy call failed',
      );
    }
    if (!res.headersSent) res.setHeader('X-Request-Id', requestId);
    writeError(res, error, requestId, this.logger);
  }

  /** Throws a domain error when the call cannot go ahead; goes asynchronous (and answers itself) when it must wait. */
  private forwardWith(
    candidate: ConnectionRuntime | null,
    principal: Principal,
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    started: bigint,
  ): void {
    if (
      !candidate ||
      candidate.workspaceId !== principal.workspaceId ||
      candidate.status === ConnectionStatus.Revoked ||
      !candidate.authorization
    ) {
      throw ConnectionError.notFound();
    }
    if (candidate.status === ConnectionStatus.NeedsReauth) throw ConnectionError.needsReauth();
    if (!candidate.base) throw ProxyError.notAvailable();
    if (candidate.expiresAtMs - this.clock.nowMs() < REFRESH_AHEAD_MS) {
      this.refresh(candidate)
        .then((rt) => this.send(rt, req, res, requestId, started))
        .catch((error: unknown) => this.fail(error, req, res, requestId));
      return;
    }
    this.send(candidate, req, res, requestId, started);
  }

  private send(
    rt: ConnectionRuntime,
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    started: bigint,
  ): void {
    const target = this.target(rt, req.url!);
    const method = req.method as Dispatcher.HttpMethod; // Node's parser gives it upper-case
    const declared = req.headers['content-length'];
    const length = declared !== undefined ? Number(declared) : undefined;
    if (length !== undefined && length > this.config.proxyBodyLimitBytes)
      throw ProxyError.bodyTooLarge(this.config.proxyBodyLimitBytes);
    const hasBody =
      !BODYLESS.has(method) || (length ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    const call = new ProxyCall(
      this,
      req,
      res,
      requestId,
      target,
      method,
      forwardHeaders(req.headers),
      rt,
      started,
    );
    if (!hasBody) return this.firstAttempt(call);
    // Small bodies of known size are kept, so a 401 can be retried after a refresh.
    if (length !== undefined && length <= this.config.proxyReplayLimitBytes) {
      readAll(req, length)
        .then((replay) => {
          call.body = replay;
          this.firstAttempt(call);
        })
        .catch((error: unknown) => this.fail(error, req, res, requestId));
      return;
    }
    call.body = req.pipe(limitBytes(this.config.proxyBodyLimitBytes));
    call.canReplay = false;
    this.firstAttempt(call);
  }

  private firstAttempt(call: ProxyCall): void {
    call.attemptStarted = process.hrtime.bigint();
    call.overheadNs = call.attemptStarted - call.started;
    this.attempt(call);
  }

  /**
   * An attempt's response was passed on (or kept aside, for a 401 on the first attempt), or failed
   * once it had started: the call is over unless that 401 is to be refreshed and retried.
   */
  attemptEnded(call: ProxyCall): void {
    if (call.unauthorized) {
      this.retryAfter401(call).catch((error: unknown) =>
        this.fail(error, call.req, call.res, call.requestId),
      );
      return;
    }
    this.finished(call);
  }

  /** An attempt failed before its response started: the caller gets the error. */
  attemptFailed(call: ProxyCall, error: Error): void {
    this.fail(this.upstreamError(error), call.req, call.res, call.requestId);
  }

  /**
   * An upstream 401 on the first attempt: refresh through the one refresh path, then retry or
   * report. A token refreshed seconds ago is not refreshed again: the 401 goes back as it came.
   */
  private async retryAfter401(call: ProxyCall): Promise<void> {
    this.refreshOn401.inc();
    const refreshStarted = process.hrtime.bigint();
    const used = call.rt;
    call.rt = await this.refresh(used, RECENT_REFRESH_MS);
    call.overheadNs += process.hrtime.bigint() - refreshStarted;
    const unauthorized = call.unauthorized!;
    call.unauthorized = undefined;
    const refreshed = call.rt.credentialsVersion !== used.credentialsVersion;
    call.retried = refreshed;
    if (refreshed && call.canReplay) {
      // The retry ends through attemptEnded / attemptFailed, like the first attempt.
      call.attemptStarted = process.hrtime.bigint();
      this.attempt(call);
      return;
    }
    const kept = unauthorized.body();
    respondWith(
      call.res,
      401,
      { ...unauthorized.headers, 'content-length': String(kept.length) },
      call.requestId,
      refreshed,
    ).end(kept);
    this.finished(call);
  }

  private finished(call: ProxyCall): void {
    this.overhead.observe(Number(call.overheadNs) / 1e9);
    this.upstreamTime.observe(Number(call.upstreamNs) / 1e9);
    if (this.debug) {
      const ms = Number(process.hrtime.bigint() - call.started) / 1e6;
      this.logger.debug(
        {
          requestId: call.requestId,
          method: call.method,
          connectionId: call.rt.id,
          status: call.res.statusCode,
          ms,
        },
        'proxied',
      );
    }
  }

  /** One upstream request; `call` is its undici handler and passes the response on as it arrives. */
  private attempt(call: ProxyCall): void {
    call.headers.authorization = call.rt.authorization!;
    this.http.dispatcher.dispatch(
      {
        origin: call.target.origin,
        path: call.target.path,
        method: call.method,
        headers: call.headers,
        body: call.body,
        headersTimeout: this.config.proxyHeadersTimeoutMs,
        bodyTimeout: this.config.proxyBodyTimeoutMs,
      },
      call,
    );
  }

  /** undici's error for an attempt that failed before its response started, as the caller's error. */
  private upstreamError(error: unknown): DomainError {
    const code = (error as { code?: string }).code ?? '';
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT')
      return ProxyError.timeout();
    if (code === 'ELATCHKEY_BLOCKED_ADDRESS') return ProxyError.destinationForbidden();
    if (code === 'ELATCHKEY_BODY_TOO_LARGE')
      return ProxyError.bodyTooLarge(this.config.proxyBodyLimitBytes);
    return ProxyError.unreachable(code || 'connection failed');
  }

  /**
   * Through the one refresh path; concurrent calls on one connection share one provider call.
   * With `unlessRefreshedWithinMs`, a token that young comes back unchanged (same version).
   */
  private async refresh(
    rt: ConnectionRuntime,
    unlessRefreshedWithinMs?: number,
  ): Promise<ConnectionRuntime> {
    const connection = await this.refresher.refresh(rt.id, {
      reason: 'proxy',
      observedVersion: rt.credentialsVersion,
      unlessRefreshedWithinMs,
    });
    const fresh = await this.build(connection);
    if (fresh) this.runtimes.set(rt.id, fresh);
    if (!fresh?.authorization) throw ConnectionError.notFound();
    return fresh;
  }

  private load(id: string): Promise<ConnectionRuntime | null> {
    return this.runtimes.get(id, async () => {
      const connection = await this.connections.findOneBy({ id });
      return connection ? this.build(connection) : null;
    });
  }

  private async build(connection: Connection): Promise<ConnectionRuntime | null> {
    const integration = await this.integrations.findOneBy({ id: connection.integrationId });
    if (!integration) return null;
    const offering = await this.offerings.get(integration.offeringId);
    const credentials = this.connectionsService.credentialsOf(connection);
    let base: ConnectionRuntime['base'] = null;
    let destinationProblem: ConnectionRuntime['destinationProblem'] = null;
    if (offering.apiBaseUrl) {
      const resolved = offering.apiBaseUrl.replace(
        '{{instance_url}}',
        (connection.instanceUrl ?? '').replace(/\/+$/, ''),
      );
      const url = URL.canParse(resolved) ? new URL(resolved) : null;
      if (url && (url.protocol === 'https:' || url.protocol === 'http:')) {
        base = { origin: url.origin, path: url.pathname.replace(/\/+$/, '') };
        const host = url.hostname.toLowerCase();
        const literal = host.replace(/^\[|\]$/g, '');
        if (!hostMatches(host, url.port, offering.allowedApiHosts))
          destinationProblem = 'host_not_allowed';
        else if (this.http.blockPrivateAddresses && isIP(literal) && isBlockedAddress(literal))
          destinationProblem = 'private_address';
      }
    }
    return {
      id: connection.id,
      workspaceId: connection.workspaceId,
      integrationId: connection.integrationId,
      offeringId: offering.id,
      status: connection.status,
      credentialsVersion: connection.credentialsVersion,
      authorization: credentials?.accessToken ? `Bearer ${credentials.accessToken}` : null,
      expiresAtMs: connection.accessTokenExpiresAt?.getTime() ?? 0,
      base,
      destinationProblem,
    };
  }

  /**
   * The upstream request for `originalUrl` (…/proxy/{id}/{path}?{query}): the API base's origin,
   * and its path followed by the caller's path and query exactly as received (still encoded). The
   * path can never leave the base: it must start with "/", and no segment may be "." or ".."
   * (plain or percent-encoded), nor contain an encoded slash, a backslash or NUL. The base's host
   * was checked against the offering's allowed hosts when the runtime was built.
   */
  target(rt: ConnectionRuntime, originalUrl: string): ProxyTarget {
    if (rt.destinationProblem === 'host_not_allowed') throw ProxyError.hostNotAllowed();
    if (rt.destinationProblem === 'private_address') throw ProxyError.destinationForbidden();
    const afterId = originalUrl.slice(PROXY_PREFIX.length + rt.id.length);
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
    const base = rt.base!;
    return { origin: base.origin, path: base.path + afterId };
  }
}

/**
 * One proxied call, and the undici handler of each of its attempts: the response head and body
 * go from undici's callbacks straight into `res`, with no stream in between. On the first attempt
 * a 401 is kept aside instead, to be retried or returned after a refresh. Each attempt reports
 * its end to the service directly, not through a promise.
 */
class ProxyCall implements Dispatcher.DispatchHandler {
  body: Buffer | Readable | undefined = undefined;
  /** False once the body is a stream that cannot be sent twice. */
  canReplay = true;
  /** Set by a refresh after a 401: the next response is passed on whatever its status. */
  retried = false;
  unauthorized: CapturedResponse | undefined = undefined;
  attemptStarted = 0n;
  overheadNs = 0n;
  upstreamNs = 0n;
  private controller: Dispatcher.DispatchController | undefined = undefined;
  /** The upstream announced trailers: they are passed on after the body. */
  private trailersAnnounced = false;
  private clientGone = false;
  private waitingForDrain = false;
  private resumeUpstream: (() => void) | undefined = undefined;

  constructor(
    /** Told when each attempt ends or fails (attemptEnded / attemptFailed). */
    private readonly owner: ProxyService,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    readonly target: ProxyTarget,
    readonly method: Dispatcher.HttpMethod,
    readonly headers: Record<string, string | string[]>,
    public rt: ConnectionRuntime,
    readonly started: bigint,
  ) {
    // `on`, not `once`: a response closes once, and `once` would wrap and later unhook the listener.
    res.on('close', this.onClientClose);
  }

  /** The caller went away before the response was complete: stop pulling from the upstream. */
  private readonly onClientClose = (): void => {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    this.controller?.abort(new Error('the client went away'));
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new Error('the client went away'));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return; // informational (103 Early Hints): not passed on
    this.upstreamNs += process.hrtime.bigint() - this.attemptStarted;
    if (!this.retried && statusCode === 401) {
      this.unauthorized = new CapturedResponse(headers);
      return;
    }
    this.trailersAnnounced = headers.trailer !== undefined;
    respondWith(this.res, statusCode, headers, this.requestId, this.retried);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.unauthorized) return this.unauthorized.add(chunk);
    if (this.res.write(chunk) || this.waitingForDrain) return;
    // The caller reads slower than the upstream sends: pause the upstream until it caught up.
    this.waitingForDrain = true;
    controller.pause();
    this.res.once(
      'drain',
      (this.resumeUpstream ??= () => {
        this.waitingForDrain = false;
        this.controller?.resume();
      }),
    );
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.controller = undefined;
    if (!this.unauthorized) {
      if (this.trailersAnnounced) this.res.addTrailers(passedTrailers(trailers));
      this.res.end();
    }
    this.owner.attemptEnded(this);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.controller = undefined;
    if (this.res.headersSent || this.clientGone) {
      // Mid-stream (the status is out: nothing more to say) or nobody left to tell.
      this.res.destroy();
      this.owner.attemptEnded(this);
    } else {
      this.owner.attemptFailed(this, error);
    }
  }
}

function forwardHeaders(incoming: IncomingMessage['headers']): Record<string, string | string[]> {
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

async function readAll(req: IncomingMessage, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > length) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Passes a stream through, failing once more than `limit` bytes went by. */
function limitBytes(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) {
        const err = new Error('request body too large') as Error & { code: string };
        err.code = 'ELATCHKEY_BODY_TOO_LARGE';
        return done(err);
      }
      done(null, chunk);
    },
  });
}

/** Writes the response head (one writeHead: Node's fast path) and hands `res` to undici for the body. */
function respondWith(
  res: ServerResponse,
  statusCode: number,
  upstream: IncomingHttpHeaders,
  requestId: string,
  refreshed: boolean,
): ServerResponse {
  const out: Record<string, string | string[]> = { 'x-request-id': requestId };
  for (const name in upstream) {
    const value = upstream[name];
    if (value !== undefined && !DROP_RESPONSE.has(name)) out[name] = value;
  }
  if (refreshed) out['latchkey-token-refreshed'] = 'true';
  return res.writeHead(statusCode, out);
}

/** An upstream 401 kept aside while the token is refreshed: its headers and the start of its body. */
class CapturedResponse {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(readonly headers: IncomingHttpHeaders) {}

  add(chunk: Buffer): void {
    // An error body is small; anything past 64 KiB is not worth holding.
    if (this.size < 65_536) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
  }

  body(): Buffer {
    const body = Buffer.concat(this.chunks);
    return body.length > 65_536 ? body.subarray(0, 65_536) : body;
  }
}

function passedTrailers(trailers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in trailers) {
    const value = trailers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
