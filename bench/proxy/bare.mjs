// The floor any Node proxy can reach: undici with a keep-alive pool, a static Authorization
// header, bodies piped both ways, nothing else.
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Agent } from 'undici';

const upstream = process.env.UPSTREAM;
const dispatcher = new Agent({ keepAliveTimeout: 60_000 });
const server = http.createServer(async (req, res) => {
  try {
    const u = new URL(upstream);
    const r = await dispatcher.request({
      origin: u.origin,
      path: req.url.replace(/^\/proxy/, ''),
      method: req.method,
      headers: { ...req.headers, host: undefined, connection: undefined, authorization: 'Bearer static-token' },
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req,
    });
    res.writeHead(r.statusCode, r.headers);
    await pipeline(r.body, res);
  } catch {
    res.destroy();
  }
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
process.on('SIGINT', () => process.exit(0));
