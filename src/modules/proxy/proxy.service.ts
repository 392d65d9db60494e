import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import type { Dispatcher } from 'undici';
import { APP_CONFIG } from '../../app.tokens.js';
import type { Principal } from '../../common/auth/principal.js';
import { DomainError } from '../../common/errors/domain-error.js';
import { writeError } from '../../common/errors/http-error.filter.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { InvalidatingCache } from '../../common/events/invalidating-cache.js';
import { OutboundHttp } from '../../common/http/outbound-http.js';
import { LOGGER } from '../../common/logging/logger.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import {
  ConnectionContexts,
  type ConnectionContext,
} from '../connections/connection-contexts.service.js';
import { ConnectionStatus } from '../connections/connection.entity.js';
import { ConnectionError } from '../connections/connections.errors.js';
import { canRenew } from '../connections/connections.service.js';
import { MetricsService } from '../health/metrics.service.js';
import { compiledTemplateOf } from '../offerings/offering-template.js';
import { TemplateError } from '../providers/templates/index.js';
import { RefreshError } from '../token-refresh/token-refresh.errors.js';
import { TokenRefreshService } from '../token-refresh/token-refresh.service.js';
import { PROXY_PREFIX } from './proxy.constants.js';
import { limitBytes, ProxyCall, type ProxyCallOwner, readAll, respondWith } from './proxy-call.js';
import {
  type ApiBase,
  apiBaseOf,
  type DestinationProblem,
  destinationProblemOf,
  forwardHeaders,
  type ProxyTarget,
  proxyTarget,
} from './proxy-path.js';
import { ProxyError } from './proxy.errors.js';
import { renderProxy, withTemplateQuery } from './proxy-template.js';

/** What a proxied call needs about a connection, kept in memory between calls. */
export interface ConnectionRuntime {
  id: string;
  workspaceId: string;
  integrationId: string;
  offeringId: string;
  status: ConnectionStatus;
  credentialsVersion: number;
  /** False once the connection holds no credentials (revoked): it is not found. */
  hasCredentials: boolean;
  /**
   * The headers every upstream request carries (names lower-cased, e.g. `authorization`),
   * rendered from the offering's template once per credentials version, never per call.
   */
  headers: ReadonlyArray<readonly [string, string]>;
  /** The template's query pairs, encoded, appended to every upstream request ('' when none). */
  query: string;
  /** Their names: the caller's parameters of these names are dropped. */
  queryNames: ReadonlySet<string>;
  /** Why the template cannot be rendered for this connection (answered on every call). */
  renderProblem: DomainError | null;
  /** A refresh token or the client-credentials grant can renew the access token. */
  renewable: boolean;
  expiresAtMs: number;
  /** Resolved API base (template applied). */
  base: ApiBase | null;
  /** Why the base's host may not be reached (checked once, when the runtime is built). */
  destinationProblem: DestinationProblem;
}

const NO_NAMES: ReadonlySet<string> = new Set();
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
export class ProxyService implements ProxyCallOwner {
  private readonly runtimes: InvalidatingCache<ConnectionRuntime | null>;
  private readonly overhead: Histogram;
  private readonly upstreamTime: Histogram;
  private readonly refreshOn401: Counter;
  private readonly debug: boolean;

  constructor(
    private readonly contexts: ConnectionContexts,
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
      help: 'Tokens refreshed after an upstream 401 (a 401 on a token refreshed seconds ago is not)',
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
      !candidate.hasCredentials
    ) {
      throw ConnectionError.notFound();
    }
    if (candidate.status === ConnectionStatus.NeedsReauth) throw ConnectionError.needsReauth();
    if (candidate.renderProblem) throw candidate.renderProblem;
    if (!candidate.base) throw ProxyError.notAvailable();
    const leftMs = candidate.expiresAtMs - this.clock.nowMs();
    // A token that cannot be renewed is used until it expires; once expired, the refresh path
    // marks the connection needs_reauth.
    if (leftMs < REFRESH_AHEAD_MS && (candidate.renewable || leftMs <= 0)) {
      this.refresh(candidate)
        .catch((error: unknown) => {
          // A refresh ahead of expiry that cannot happen now (an outage, a backoff) does not stop
          // a call whose token still works.
          if (error instanceof RefreshError && candidate.expiresAtMs > this.clock.nowMs())
            return candidate;
          throw error;
        })
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
    const refreshStarted = process.hrtime.bigint();
    const used = call.rt;
    if (!used.renewable) return this.unauthorizedWithoutRenewal(call);
    call.rt = await this.refresh(used, RECENT_REFRESH_MS);
    call.overheadNs += process.hrtime.bigint() - refreshStarted;
    const unauthorized = call.unauthorized!;
    call.unauthorized = undefined;
    const refreshed = call.rt.credentialsVersion !== used.credentialsVersion;
    if (refreshed) this.refreshOn401.inc();
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

  /**
   * An upstream 401 for credentials nothing can renew (a pasted key, a token without refresh
   * token): the one refresh path marks the connection needs_reauth (no provider call, no retry)
   * and the caller gets the provider's 401 as it came; later calls get 409.
   */
  private async unauthorizedWithoutRenewal(call: ProxyCall): Promise<void> {
    const rt = call.rt;
    try {
      await this.refresher.refresh(rt.id, {
        reason: 'proxy',
        observedVersion: rt.credentialsVersion,
      });
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'connection.needs_reauth'))
        this.logger.warn(
          { requestId: call.requestId, code: (error as DomainError).code },
          'marking a connection after an upstream 401 failed',
        );
    }
    this.runtimes.delete(rt.id);
    const unauthorized = call.unauthorized!;
    call.unauthorized = undefined;
    const kept = unauthorized.body();
    respondWith(
      call.res,
      401,
      { ...unauthorized.headers, 'content-length': String(kept.length) },
      call.requestId,
      false,
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
    // Template headers replace the caller's of the same name (both lower-case).
    const headers = call.rt.headers;
    for (let i = 0; i < headers.length; i++) call.headers[headers[i][0]] = headers[i][1];
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
    const context = await this.contexts.of(connection);
    const fresh = context ? this.build(context) : null;
    if (fresh) this.runtimes.set(rt.id, fresh);
    if (!fresh?.hasCredentials) throw ConnectionError.notFound();
    if (fresh.renderProblem) throw fresh.renderProblem;
    return fresh;
  }

  private load(id: string): Promise<ConnectionRuntime | null> {
    return this.runtimes.get(id, async () => {
      const context = await this.contexts.load(id);
      return context ? this.build(context) : null;
    });
  }

  /**
   * Renders the connection's proxy parts from its offering's compiled template, once per
   * credentials version (and whenever the connection or its offering changes): what a warm call
   * does with them is assign headers.
   */
  private build({
    connection,
    offering,
    integration,
    credentials,
  }: ConnectionContext): ConnectionRuntime {
    const rt: ConnectionRuntime = {
      id: connection.id,
      workspaceId: connection.workspaceId,
      integrationId: connection.integrationId,
      offeringId: offering.id,
      status: connection.status,
      credentialsVersion: connection.credentialsVersion,
      hasCredentials: credentials !== null,
      headers: [],
      query: '',
      queryNames: NO_NAMES,
      renderProblem: null,
      renewable: false,
      expiresAtMs: connection.accessTokenExpiresAt?.getTime() ?? Infinity,
      base: null,
      destinationProblem: null,
    };
    if (!credentials) return rt;
    try {
      const compiled = compiledTemplateOf(offering);
      rt.renewable = canRenew(offering, credentials);
      const rendered = renderProxy(
        compiled,
        { connection, credentials, clientId: integration.clientId },
        { allowInsecure: this.config.allowInsecureProviders },
      );
      rt.headers = rendered.headers;
      rt.query = rendered.query;
      rt.queryNames = rendered.queryNames;
      const url = rendered.base;
      if (url && (url.protocol === 'https:' || url.protocol === 'http:')) {
        rt.base = apiBaseOf(url);
        rt.destinationProblem = destinationProblemOf(
          url,
          offering.allowedApiHosts,
          this.http.blockPrivateAddresses,
        );
      }
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      rt.renderProblem = ProxyError.cannotRender(error);
    }
    return rt;
  }

  /** The upstream request for `originalUrl` (…/proxy/{id}/{path}?{query}), by the path policy. */
  target(rt: ConnectionRuntime, originalUrl: string): ProxyTarget {
    if (rt.destinationProblem === 'host_not_allowed') throw ProxyError.hostNotAllowed();
    if (rt.destinationProblem === 'private_address') throw ProxyError.destinationForbidden();
    const target = proxyTarget(rt.base!, originalUrl.slice(PROXY_PREFIX.length + rt.id.length));
    if (!rt.query) return target;
    const q = target.path.indexOf('?');
    const path = q < 0 ? target.path : target.path.slice(0, q);
    const callerQuery = q < 0 ? '' : target.path.slice(q + 1);
    return {
      origin: target.origin,
      path: `${path}?${withTemplateQuery(callerQuery, rt.query, rt.queryNames)}`,
    };
  }
}
