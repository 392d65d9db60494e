import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';

/** What may be served, by extension. Anything else in public/ is never sent. */
const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** `/assets/...` ← public/assets, `/sdk/...` ← public/sdk. */
const MOUNTS = ['assets', 'sdk'] as const;

function scan(root: string, urlPrefix: string, into: Map<string, StaticFile>): void {
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return; // a mount that does not exist serves nothing
  }
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(root, entry.name);
    const url = `${urlPrefix}/${entry.name}`;
    if (entry.isDirectory()) scan(full, url, into);
    else if (entry.isFile()) {
      const type = CONTENT_TYPES[path.extname(entry.name).toLowerCase()];
      if (!type) continue;
      const body = readFileSync(full);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      into.set(url, { body, type, etag });
    }
  }
}

/**
 * Serves the files under public/assets and public/sdk. The set of servable URLs is read once at
 * start and requests are looked up in it verbatim: no request ever builds a filesystem path, so
 * `..`, encoded separators or backslashes cannot reach anything else — they simply are not keys.
 * `no-cache` + ETag: browsers revalidate on every load (cheap 304s) and never run stale code
 * after an upgrade.
 */
export function staticFiles(
  publicDir: string,
): (req: Request, res: Response, next: NextFunction) => void {
  const files = new Map<string, StaticFile>();
  for (const mount of MOUNTS) scan(path.join(publicDir, mount), `/${mount}`, files);

  return (req, res, next) => {
    const rawPath = req.originalUrl.split('?')[0];
    if (!MOUNTS.some((m) => rawPath.startsWith(`/${m}/`))) return next();
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const file = files.get(rawPath);
    if (!file) {
      res.status(404).type('text/plain').setHeader('X-Content-Type-Options', 'nosniff');
      res.end('Not found');
      return;
    }
    res.setHeader('Content-Type', file.type);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', file.etag);
    const inm = req.headers['if-none-match'];
    if (
      typeof inm === 'string' &&
      inm.split(',').some((t) => t.trim() === file.etag || t.trim() === `W/${file.etag}`)
    ) {
      res.status(304).end();
      return;
    }
    res.setHeader('Content-Length', file.body.length);
    res.status(200);
    res.end(req.method === 'HEAD' ? undefined : file.body);
  };
}
