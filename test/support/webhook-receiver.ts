import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { vi } from 'vitest';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver does with a request: answer with a status, or never answer (a timeout). */
export type Answer = number | 'hang';

/**
 * A developer's webhook receiver on loopback: records every request, answers per path (200 unless
 * told otherwise). Hung requests are released when it closes.
 */
export async function startReceiver(): Promise<{
  url: string;
  received: Received[];
  answer: Map<string, Answer[] | Answer>;
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  const answer = new Map<string, Answer[] | Answer>();
  const hung = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body });
      const planned = answer.get(path) ?? 200;
      const next = Array.isArray(planned) ? (planned.shift() ?? 200) : planned;
      if (next === 'hang') {
        const release = () => res.destroy();
        hung.add(release);
        res.on('close', () => hung.delete(release));
        return;
      }
      res
        .writeHead(next, { 'content-type': 'text/plain' })
        .end(`answer ${next} ${'x'.repeat(600)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answer,
    async close() {
      for (const release of hung) release();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Verifies a request exactly as a developer's backend does, with the `standardwebhooks` package,
 * as if the receiver's clock read `nowMs` (its 5-minute tolerance is checked against Date.now()).
 * Returns the parsed payload; throws when no signature matches.
 */
export function verify(secret: string, request: Received, nowMs = Date.now()): unknown {
  vi.useFakeTimers({ toFake: ['Date'], now: nowMs });
  try {
    return new Webhook(secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
  } finally {
    vi.useRealTimers();
  }
}
