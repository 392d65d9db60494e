import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError } from './cli-error.js';
import { Clock, SystemClock } from '../common/time/clock.js';

/** What `login` keeps between commands: enough to get a fresh access token, nothing more. */
export interface StoredCredentials {
  /** The Latchkey base URL given to `login --url`. */
  url: string;
  /** The authorization server's issuer, as its metadata said at login. */
  issuer: string;
  clientId: string;
  /** The newest refresh token (it rotates on every use). */
  refreshToken: string;
  workspaceId: string | null;
  scope: string;
}

export const CREDENTIALS_FILE = 'credentials.json';

/** A lock older than this was left by a command that died mid-refresh. */
const STALE_LOCK_MS = 30_000;
const LOCK_WAIT_MS = 15_000;

/**
 * The CLI's configuration directory: `LATCHKEY_CONFIG_DIR` when set (tests, several profiles),
 * else `%APPDATA%\latchkey` on Windows and `$XDG_CONFIG_HOME/latchkey` or `~/.config/latchkey`
 * elsewhere.
 */
export function configDirectory(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
  home: string = os.homedir(),
): string {
  if (env.LATCHKEY_CONFIG_DIR) return path.resolve(env.LATCHKEY_CONFIG_DIR);
  if (platform === 'win32') {
    return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'latchkey');
  }
  const base =
    env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : '';
  return path.join(base || path.join(home, '.config'), 'latchkey');
}

/** The credentials file in `dir`: readable and writable by its owner only. */
export class CredentialsFile {
  readonly path: string;

  /** `clock`: wall time, as the lock file's mtime is (a test may pass another). */
  constructor(
    readonly dir: string,
    private readonly clock: Clock = new SystemClock(),
  ) {
    this.path = path.join(dir, CREDENTIALS_FILE);
  }

  async read(): Promise<StoredCredentials | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    let parsed: Partial<StoredCredentials> | null = null;
    try {
      parsed = JSON.parse(text) as Partial<StoredCredentials>;
    } catch {
      // reported below
    }
    if (
      !parsed ||
      typeof parsed.url !== 'string' ||
      typeof parsed.issuer !== 'string' ||
      typeof parsed.clientId !== 'string' ||
      typeof parsed.refreshToken !== 'string'
    ) {
      throw new CliError(`${this.path} is not a Latchkey credentials file; run login again`);
    }
    return {
      url: parsed.url,
      issuer: parsed.issuer,
      clientId: parsed.clientId,
      refreshToken: parsed.refreshToken,
      workspaceId: typeof parsed.workspaceId === 'string' ? parsed.workspaceId : null,
      scope: typeof parsed.scope === 'string' ? parsed.scope : '',
    };
  }

  /**
   * Replaces the file atomically: a new file created with mode 0600 (never a moment readable by
   * others), written and flushed, then renamed over the old one, so a crash leaves either the old
   * or the new refresh token, never half of one.
   */
  async write(credentials: StoredCredentials): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700); // also when it already existed (mkdir's mode is for new ones)
    const temp = path.join(this.dir, `.${CREDENTIALS_FILE}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(credentials, null, 2)}\n`);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(temp, { force: true });
      throw error;
    }
    await handle.close();
    try {
      await rename(temp, this.path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /**
   * Runs `fn` while holding the directory's lock file, so that commands started together (say
   * several `$(connections token …)` in one script) refresh one after the other, each with the
   * newest refresh token: presenting a spent one would look like theft to the server, which then
   * revokes the whole sign-in (RFC 9700 reuse detection).
   */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const lock = `${this.path}.lock`;
    const deadline = this.clock.nowMs() + LOCK_WAIT_MS;
    for (;;) {
      try {
        await (await open(lock, 'wx', 0o600)).close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const since = await stat(lock).then(
          (s) => this.clock.nowMs() - s.mtimeMs,
          () => 0,
        );
        if (since > STALE_LOCK_MS) await rm(lock, { force: true });
        else if (this.clock.nowMs() > deadline) {
          throw new CliError(
            `Another command holds ${lock}; if none is running, delete that file.`,
          );
        } else await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 50));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  }

  /** Whether there was a file to delete. */
  async delete(): Promise<boolean> {
    try {
      await rm(this.path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }
}
