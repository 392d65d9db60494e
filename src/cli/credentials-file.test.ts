import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock, FakeClock } from '../common/time/clock.js';
import { CliError } from './cli-error.js';
import { configDirectory, CredentialsFile } from './credentials-file.js';

describe('configDirectory', () => {
  it('prefers LATCHKEY_CONFIG_DIR, then XDG_CONFIG_HOME, then ~/.config', () => {
    expect(configDirectory({ LATCHKEY_CONFIG_DIR: '/tmp/lk' }, 'linux', '/home/ada')).toBe(
      '/tmp/lk',
    );
    expect(configDirectory({ XDG_CONFIG_HOME: '/xdg' }, 'linux', '/home/ada')).toBe(
      '/xdg/latchkey',
    );
    expect(configDirectory({}, 'darwin', '/Users/ada')).toBe('/Users/ada/.config/latchkey');
  });

  it('ignores a relative XDG_CONFIG_HOME, as the XDG spec says', () => {
    expect(configDirectory({ XDG_CONFIG_HOME: 'rel' }, 'linux', '/home/ada')).toBe(
      '/home/ada/.config/latchkey',
    );
  });

  it('uses %APPDATA% on Windows', () => {
    expect(configDirectory({ APPDATA: '/appdata' }, 'win32', '/home/ada')).toBe(
      path.join('/appdata', 'latchkey'),
    );
  });
});

describe(CredentialsFile.name, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'latchkey-credentials-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('read', () => {
    it('is null without a file and refuses one that is not credentials', async () => {
      const file = new CredentialsFile(path.join(dir, 'a'));
      expect(await file.read()).toBeNull();
      await mkdir(file.dir);
      await writeFile(file.path, '{"url": "https://x"');
      await expect(file.read()).rejects.toThrow(CliError);
      await expect(file.read()).rejects.toThrow(/run login again/);
    });
  });

  describe('withLock', () => {
    /** A clock at the lock file's mtime plus `aheadMs` (the lock's age by this clock). */
    async function lockedFile(name: string, aheadMs: number) {
      const probe = new CredentialsFile(path.join(dir, name));
      await mkdir(probe.dir, { recursive: true });
      await writeFile(`${probe.path}.lock`, '');
      const { mtimeMs } = await stat(`${probe.path}.lock`);
      return new CredentialsFile(probe.dir, new FakeClock(mtimeMs + aheadMs));
    }

    it('takes over a lock left by a command that died (older than 30 s)', async () => {
      const file = await lockedFile('stale', 31_000);
      expect(await file.withLock(async () => 'ran')).toBe('ran');
      await expect(stat(`${file.path}.lock`)).rejects.toThrow(/ENOENT/);
    });

    it('gives up, saying which file to delete, when a fresh lock is not released in time', async () => {
      const probe = await lockedFile('held', 0);
      const { mtimeMs } = await stat(`${probe.path}.lock`);
      // Each look at the clock is a second later: the 15 s wait runs out while the lock, by its
      // mtime, stays younger than 30 s.
      let at = mtimeMs;
      const ticking = new (class extends Clock {
        now() {
          at += 1_000;
          return new Date(at);
        }
      })();
      const file = new CredentialsFile(probe.dir, ticking);
      await expect(file.withLock(async () => 'never')).rejects.toThrow(
        /Another command holds .*\.lock/,
      );
      expect(at - mtimeMs).toBeLessThan(30_000);
    });
  });
});
