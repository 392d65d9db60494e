// A tiny upstream API for the proxy benchmark: small JSON for any path,
// /download?bytes=N streaming N bytes with backpressure, and …/echo-headers.
import http from 'node:http';

const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const BODY = JSON.stringify({ ok: true, records: [{ Id: '001', Name: 'Acme' }] });

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname.endsWith('/download')) {
    let remaining = Number(url.searchParams.get('bytes') ?? 10 * 1024 * 1024);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': remaining });
    const pump = () => {
      while (remaining > 0) {
        const chunk = CHUNK.subarray(0, Math.min(remaining, CHUNK.length));
        remaining -= chunk.length;
        if (!res.write(chunk)) return res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  if (url.pathname.endsWith('/echo-headers')) {
    // For the runner's check that a path's upstream headers arrived as configured.
    return res.end(JSON.stringify(req.headers));
  }
  req.resume();
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(BODY),
  });
  res.end(BODY);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
