import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
