// The floor any Node proxy can reach: undici with a keep-alive pool, a static Authorization
// header, bodies passed through both ways, nothing else. BARE_MODE picks the undici API:
// - stream (the default): stream(), the response written straight into the server response;
// - pipeline: request() + stream.pipeline, the common pattern, for comparison;
// - dispatch: dispatch() with a handler object that writes into the server response itself, the
//   lowest-level API and the one Latchkey's proxy uses.
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Agent } from 'undici';

const upstream = new URL(process.env.UPSTREAM);
const mode = process.env.BARE_MODE ?? 'stream';
const dispatcher = new Agent({ keepAliveTimeout: 60_000 });
const options = (req) => ({
  origin: upstream.origin,
  path: req.url.replace(/^\/proxy/, ''),
  method: req.method,
  headers: {
    ...req.headers,
    host: undefined,
    connection: undefined,
    authorization: 'Bearer static-token',
  },
  body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req,
});

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

class PassThrough {
  constructor(res) {
    this.res = res;
    this.controller = null;
    res.once(
      'close',
      () => res.writableFinished || this.controller?.abort(new Error('client went away')),
    );
  }
  onRequestStart(controller) {
    this.controller = controller;
  }
  onResponseStart(_controller, statusCode, headers) {
    const out = {};
    for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
    this.res.writeHead(statusCode, out);
  }
  onResponseData(controller, chunk) {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }
  onResponseEnd() {
    this.res.end();
  }
  onResponseError() {
    this.res.destroy();
  }
}

const server = http.createServer(async (req, res) => {
  try {
    if (mode === 'stream') {
      await dispatcher.stream(options(req), ({ statusCode, headers }) =>
        res.writeHead(statusCode, headers),
      );
    } else if (mode === 'dispatch') {
      dispatcher.dispatch(options(req), new PassThrough(res));
    } else {
      const r = await dispatcher.request(options(req));
      res.writeHead(r.statusCode, r.headers);
      await pipeline(r.body, res);
    }
  } catch {
    res.destroy();
  }
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: server.address().port });
});
process.on('SIGINT', () => process.exit(0));
