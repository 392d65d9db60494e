import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import {
  SalesforceAuthorizationServer,
  type AuthorizationServerOptions,
} from './authorization-server.js';
import { json, readText, type Route } from './http.js';
import { SalesforceRestApi } from './rest-api.js';

export {
  DEFAULT_APP,
  DEFAULT_PASSWORD,
  DEFAULT_USER,
  type ConnectedApp,
  type ConnectedAppInput,
  type IssuedTokens,
  type SalesforceUser,
} from './authorization-server.js';
export { downloadByte } from './rest-api.js';

export interface SalesforceTestProviderOptions extends AuthorizationServerOptions {
  /** Port on 127.0.0.1 to listen on. Default: any free port. */
  port?: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Raw body as text; absent for upload/download and bodiless requests. */
  body?: string;
  at: number;
}

/**
 * A Salesforce-compatible OAuth 2.0 authorization server and REST API on loopback, for tests, the
 * demo and the benchmarks.
 *
 * Shapes follow Salesforce's web-server flow: `/services/oauth2/{authorize,token,revoke,
 * introspect,userinfo}`, the identity URL `/id/{orgId}/{userId}`, and an echoing REST API under
 * `/services/data/{version}/…` served from the same origin (the default `instance_url`).
 * The authorize endpoint approves at once as the "current user", so no browser is needed; with
 * `interactive: true` it shows a real sign-in page and a consent page instead (for the demo and
 * browser tests).
 *
 * The parts: `authorization-server.ts` (accounts, tokens and the OAuth endpoints, which this class
 * extends), `rest-api.ts` (what the proxy calls), `pages.ts` (sign-in, consent and error pages).
 * This file listens, routes, logs requests and can play dead.
 */
export class SalesforceTestProvider extends SalesforceAuthorizationServer {
  /** Every request received, in order (see `clearRequests`). */
  readonly requests: LoggedRequest[] = [];

  private readonly restApi: SalesforceRestApi;
  private readonly routes: Route[];
  private readonly sockets = new Set<Socket>();
  private down = false;

  private constructor(
    private readonly server: Server,
    signingKey: CryptoKey,
    jwk: JWK,
    options: SalesforceTestProviderOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    super(`http://127.0.0.1:${port}`, signingKey, jwk, options);
    this.restApi = new SalesforceRestApi({
      liveAccessToken: (token) => this.liveAccessToken(token),
      users: this.users,
    });
    this.routes = [...this.authorizationRoutes(), ...this.restApi.routes()];
  }

  static async start(options: SalesforceTestProviderOptions = {}): Promise<SalesforceTestProvider> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', resolve);
    });
    // Nobody knows the port yet, so attaching the handlers after listen() misses nothing.
    const provider = new SalesforceTestProvider(server, privateKey, jwk, options);
    server.on('connection', (socket) => provider.onConnection(socket));
    server.on('request', (req, res) => void provider.handle(req, res));
    return provider;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- test controls ------------------------------------------------------------------------

  /** While down, every connection is destroyed as soon as it is accepted. */
  setDown(down: boolean): void {
    this.down = down;
    if (down) for (const socket of this.sockets) socket.destroy();
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /**
   * Stop (or resume) appending to `requests` and `issued`, for load tests that would otherwise
   * keep every request in memory. Counters keep counting.
   */
  setRecording(enabled: boolean): void {
    this.recording = enabled;
  }

  /** REST API requests, answered or refused. */
  get restRequests(): number {
    return this.restApi.requests;
  }

  /** Bytes handed to sockets by /download so far (with backpressure: what the reader let through). */
  get downloadBytesWritten(): number {
    return this.restApi.downloadBytesWritten;
  }

  /** /download responses whose reader went away before the end. */
  get downloadsCutOff(): number {
    return this.restApi.downloadsCutOff;
  }

  /** Delayed (`_delayMs`) calls whose caller closed the connection before the answer. */
  get delayedCallsAbandoned(): number {
    return this.restApi.delayedCallsAbandoned;
  }

  // ---- plumbing -----------------------------------------------------------------------------

  private onConnection(socket: Socket): void {
    if (this.down) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      at: this.now(),
    };
    if (this.recording) this.requests.push(entry);
    try {
      for (const [method, pattern, handler] of this.routes) {
        const match = pattern.exec(url.pathname);
        if (!match || (method !== '*' && method !== req.method)) continue;
        const streaming = /\/(upload|download)$/.test(url.pathname);
        const body = streaming ? '' : await readText(req);
        if (body) entry.body = body;
        await handler(req, res, { url, params: match.slice(1), body });
        return;
      }
      json(res, 404, [
        { errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' },
      ]);
    } catch (error) {
      if (res.headersSent) res.destroy();
      else json(res, 500, { error: 'server_error', error_description: String(error) });
    }
  }
}
