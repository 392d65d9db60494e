import { repoDirectory } from '../../common/files/repo-directory.js';

/** The repository's `public/` directory (console assets, browser SDK). */
export function publicDirectory(): string {
  return repoDirectory('public', 'The public/ directory (console assets)');
}
