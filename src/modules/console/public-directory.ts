import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository's `public/` directory (console assets, browser SDK), found upwards from this file
 * (src/ or dist/src/) next to package.json, the same way the offering catalog is found.
 */
export function publicDirectory(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'public');
    if (existsSync(path.join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('The public/ directory (console assets) was not found');
    dir = parent;
  }
}
