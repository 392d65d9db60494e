import { spawn } from 'node:child_process';

/**
 * Opens `url` in the desktop's default browser with the platform's own launcher (no shell, so
 * the URL's `&` and `?` reach it unchanged). Resolves once the launcher started; a missing
 * launcher (a server without a desktop) rejects, and the caller falls back to the printed URL.
 */
export function openInBrowser(
  url: string,
  platform: NodeJS.Platform = process.platform,
): Promise<void> {
  const [command, ...args] =
    platform === 'darwin'
      ? ['open', url]
      : platform === 'win32'
        ? ['rundll32', 'url.dll,FileProtocolHandler', url]
        : ['xdg-open', url];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.once('error', reject);
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}
