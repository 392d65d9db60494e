import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A directory shipped beside package.json (`offerings/`, `public/`), found upwards from this file,
 * so it resolves the same from src/ (tests) and dist/src/ (npm start, the container image).
 */
export function repoDirectory(name: string, what: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, name);
    if (existsSync(path.join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`${what} was not found`);
    dir = parent;
  }
}
