import { type Readable, Transform } from 'node:stream';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ProxyTarget } from './proxy-path.js';
import type { ConnectionRuntime } from './proxy.service.js';

/** What a call's attempts report to: the service decides what happens next. */
export interface ProxyCallOwner {
  attemptEnded(call: ProxyCall): void;
  attemptFailed(call: ProxyCall, error: Error): void;
}

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
/**
 * One proxied call, and the undici handler of each of its attempts: the response head and body
 * go from undici's callbacks straight into `res`, with no stream in between. On the first attempt
 * a 401 is kept aside instead, to be retried or returned after a refresh. Each attempt reports
 * its end to the service directly, not through a promise.
 */
export class ProxyCall implements Dispatcher.DispatchHandler {
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
    private readonly owner: ProxyCallOwner,
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

export async function readAll(req: IncomingMessage, length: number): Promise<Buffer> {
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
export function limitBytes(limit: number): Transform {
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
export function respondWith(
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
