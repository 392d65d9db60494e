import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SalesforceUser } from './authorization-server.js';
import { bearer, json, sleep, type Ctx, type Route } from './http.js';

/*
 * The REST API under `/services/data/{version}/…`: what Latchkey's proxy calls. It echoes requests
 * and has a few endpoints with a particular shape (a stream, an upload, trailers, Chatter's
 * `users/me`). It trusts the access tokens the authorization server issued, and nothing else.
 */

const INVALID_SESSION = [
  { message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' },
];
/** Download bodies repeat the bytes 0..250; a chunk is a whole number of periods. */
const DOWNLOAD_PERIOD = 251;
const DOWNLOAD_CHUNK = Buffer.from(
  Array.from({ length: DOWNLOAD_PERIOD * 261 }, (_, i) => i % DOWNLOAD_PERIOD),
);
/** Byte `i` of a `/download` body. */
export const downloadByte = (i: number) => i % DOWNLOAD_PERIOD;

/** What the REST API needs to know of the authorization server's state. */
export interface AccessTokens {
  /** The live (issued, unexpired, unrevoked) access token's owner, or undefined. */
  liveAccessToken(token: string | undefined): { userId: string } | undefined;
  readonly users: ReadonlyMap<string, SalesforceUser>;
}

export class SalesforceRestApi {
  /** REST API requests, answered or refused. */
  requests = 0;
  /** Bytes handed to sockets by /download so far (with backpressure: what the reader let through). */
  downloadBytesWritten = 0;
  /** /download responses whose reader went away before the end. */
  downloadsCutOff = 0;
  /** Delayed (`_delayMs`) calls whose caller closed the connection before the answer. */
  delayedCallsAbandoned = 0;

  constructor(private readonly tokens: AccessTokens) {}

  routes(): Route[] {
    return [
      [
        'GET',
        /^\/services\/data\/[^/]+\/download$/,
        (req, res, ctx) => this.download(req, res, ctx),
      ],
      ['POST', /^\/services\/data\/[^/]+\/upload$/, (req, res) => this.upload(req, res)],
      ['GET', /^\/services\/data\/[^/]+\/chatter\/users\/me$/, (req, res) => this.me(req, res)],
      [
        'GET',
        /^\/services\/data\/[^/]+\/with-trailers$/,
        (req, res) => this.withTrailers(req, res),
      ],
      ['*', /^\/services\/data\/[^/]+(\/.*)?$/, (req, res, ctx) => this.echo(req, res, ctx)],
    ];
  }

  /** REST API auth: `Authorization: Bearer|OAuth <token>`; failure is Salesforce's 401 array. */
  private restCaller(req: IncomingMessage, res: ServerResponse): boolean {
    this.requests += 1;
    if (this.tokens.liveAccessToken(bearer(req))) return true;
    json(res, 401, INVALID_SESSION, { 'www-authenticate': 'Token' });
    return false;
  }

  /**
   * Echoes the request. `?_status=NNN` forces the status and `?_delayMs=N` delays the answer
   * (real time), for proxy tests of upstream errors and timeouts.
   */
  private async echo(
    req: IncomingMessage,
    res: ServerResponse,
    { url, body: raw }: Ctx,
  ): Promise<void> {
    if (!this.restCaller(req, res)) return;
    const delay = Number(url.searchParams.get('_delayMs') ?? 0);
    if (delay > 0) {
      let closed = false;
      res.once('close', () => (closed = true));
      await sleep(delay);
      if (closed) {
        this.delayedCallsAbandoned++;
        return;
      }
    }
    let body: unknown = raw === '' ? null : raw;
    if (raw && /json/i.test(req.headers['content-type'] ?? '')) {
      try {
        body = JSON.parse(raw);
      } catch {
        // keep the text; the caller sent what it sent
      }
    }
    const forced = Number(url.searchParams.get('_status') ?? 0);
    const status = forced || (req.method === 'POST' ? 201 : 200);
    json(
      res,
      status,
      {
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
      },
      { 'sforce-limit-info': `api-usage=${this.requests}/15000` },
    );
  }

  /** The token's user, in the shape of Chatter's `users/me` (a small, readable answer for demos). */
  private me(req: IncomingMessage, res: ServerResponse): void {
    if (!this.restCaller(req, res)) return;
    const record = this.tokens.liveAccessToken(bearer(req));
    const user = record && this.tokens.users.get(record.userId);
    if (!user) return json(res, 404, [{ errorCode: 'NOT_FOUND', message: 'no such user' }]);
    const [first, ...rest] = user.displayName.split(' ');
    json(res, 200, {
      id: user.userId,
      type: 'User',
      username: user.username,
      displayName: user.displayName,
      firstName: first,
      lastName: rest.join(' '),
      email: user.email,
      organizationId: user.orgId,
      isActive: user.active !== false,
      url: `/services/data/v62.0/chatter/users/${user.userId}`,
    });
  }

  /** A chunked body followed by HTTP trailers (announced in `Trailer`), like a checksum at the end. */
  private withTrailers(req: IncomingMessage, res: ServerResponse): void {
    if (!this.restCaller(req, res)) return;
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum, x-record-count' });
    res.write('first part;');
    res.write('second part');
    res.addTrailers({ 'x-checksum': 'sha256=abc123', 'x-record-count': '2' });
    res.end();
  }

  /** Streams `bytes` bytes (default 1 MiB) with backpressure, never holding more than a chunk. */
  private async download(req: IncomingMessage, res: ServerResponse, { url }: Ctx): Promise<void> {
    if (!this.restCaller(req, res)) return;
    req.resume();
    let remaining = Number(url.searchParams.get('bytes') ?? 1024 * 1024);
    if (!Number.isSafeInteger(remaining) || remaining < 0) {
      return json(res, 400, [{ errorCode: 'INVALID_QUERY_PARAMETER', message: 'bytes' }]);
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': remaining });
    while (remaining > 0 && !res.destroyed) {
      const chunk = DOWNLOAD_CHUNK.subarray(0, Math.min(remaining, DOWNLOAD_CHUNK.length));
      remaining -= chunk.length;
      this.downloadBytesWritten += chunk.length;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done).off('close', done);
            resolve();
          };
          res.on('drain', done).on('close', done);
        });
      }
    }
    if (remaining > 0) this.downloadsCutOff++;
    res.end();
  }

  /** Counts the request body without keeping it. */
  private async upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.restCaller(req, res)) {
      req.resume();
      return;
    }
    let bytes = 0;
    for await (const chunk of req) bytes += (chunk as Buffer).length;
    json(res, 200, { bytes });
  }
}
