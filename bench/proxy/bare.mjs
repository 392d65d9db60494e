// The floor any Node proxy can reach: undici with a keep-alive pool, a static Authorization
// header, bodies passed through both ways, nothing else. BARE_MODE=stream (the default) uses
// undici's stream() (the response goes straight into the server response, as in Latchkey);
// BARE_MODE=pipeline uses request() + stream.pipeline, the common pattern, for comparison.
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
  headers: { ...req.headers, host: undefined, connection: undefined, authorization: 'Bearer static-token' },
  body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req,
});

const server = http.createServer(async (req, res) => {
  try {
    if (mode === 'stream') {
      await dispatcher.stream(options(req), ({ statusCode, headers }) => res.writeHead(statusCode, headers));
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
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
process.on('SIGINT', () => process.exit(0));
