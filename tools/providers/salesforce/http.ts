import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a route's handler gets besides the request and response. */
export interface Ctx {
  url: URL;
  params: string[];
  /** The request body as text (empty for upload/download, which stream). */
  body: string;
}
export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: Ctx) => Promise<void> | void;
/** Method (`*` for any), path pattern (its groups become `ctx.params`), handler. */
export type Route = [string, RegExp, Handler];

// Captured at load so that tests using fake timers still get real latency.
const realSetTimeout = globalThis.setTimeout;
export const sleep = (ms: number) => new Promise<void>((resolve) => realSetTimeout(resolve, ms));

export function fail(message: string): never {
  throw new Error(message);
}

/** The token of `Authorization: Bearer|OAuth <token>` (Salesforce takes both words). */
export function bearer(req: IncomingMessage): string | undefined {
  return /^(?:Bearer|OAuth) (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
}

export async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res
    .writeHead(status, {
      'content-type': 'application/json;charset=UTF-8',
      'cache-control': 'no-cache,must-revalidate,max-age=0,no-store,private',
      ...headers,
    })
    .end(JSON.stringify(body));
}

export function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain;charset=UTF-8' }).end(body);
}
