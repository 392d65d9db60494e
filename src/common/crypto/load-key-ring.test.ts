import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.js';
import { createLogger } from '../logging/logger.js';
import { KeyRing } from './key-ring.js';
import { loadKeyRing } from './load-key-ring.js';

const CTX = { table: 'signing_keys', rowId: 'sk_1', field: 'privateJwk' };

/** A logger whose JSON lines are kept for inspection. */
function capturingLogger() {
  const raw: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void raw.push(line) });
  return {
    logger,
    raw,
    entries: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe(loadKeyRing.name, () => {
  let cwd: string;
  let dataDir: string;
  let keyFile: string;

  beforeEach(async () => {
    cwd = await mkdtemp(path.join(tmpdir(), 'latchkey-keyring-'));
    // Not created yet: loadKeyRing must make it.
    dataDir = path.join(cwd, 'data');
    keyFile = path.join(dataDir, 'encryption-keys');
  });

  afterEach(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  const developmentConfig = () =>
    loadConfig({ NODE_ENV: 'development', LATCHKEY_DATA_DIR: 'data' }, cwd);

  describe('with LATCHKEY_ENCRYPTION_KEYS set', () => {
    it('uses the configured keys and writes no key file', async () => {
      const primary = randomBytes(32);
      const previous = randomBytes(32);
      const config = loadConfig(
        {
          LATCHKEY_DATA_DIR: 'data',
          LATCHKEY_ENCRYPTION_KEYS: `k2:${primary.toString('base64')},k1:${previous.toString('base64')}`,
        },
        cwd,
      );
      const { logger, raw } = capturingLogger();

      const ring = await loadKeyRing(config, logger);

      expect(ring.keyIds).toEqual(['k2', 'k1']);
      expect(ring.primaryKeyId).toBe('k2');
      expect(
        new KeyRing([{ id: 'k2', key: primary }]).decrypt(ring.encrypt('secret', CTX), CTX),
      ).toBe('secret');
      const old = new KeyRing([{ id: 'k1', key: previous }]).encrypt('older secret', CTX);
      expect(ring.decrypt(old, CTX)).toBe('older secret');
      expect(existsSync(keyFile)).toBe(false);
      expect(raw).toEqual([]);
    });

    it('uses the configured keys in production', async () => {
      const key = randomBytes(32);
      const config = loadConfig(
        {
          NODE_ENV: 'production',
          PUBLIC_URL: 'https://latchkey.example.com',
          LATCHKEY_DATA_DIR: 'data',
          LATCHKEY_ENCRYPTION_KEYS: `prod:${key.toString('base64')}`,
        },
        cwd,
      );

      const ring = await loadKeyRing(config, capturingLogger().logger);

      expect(ring.primaryKeyId).toBe('prod');
      expect(new KeyRing([{ id: 'prod', key }]).decrypt(ring.encrypt('secret', CTX), CTX)).toBe(
        'secret',
      );
    });
  });

  describe('without LATCHKEY_ENCRYPTION_KEYS', () => {
    it('generates a key file readable only by its owner in the data directory', async () => {
      const ring = await loadKeyRing(developmentConfig(), capturingLogger().logger);

      const contents = await readFile(keyFile, 'utf8');
      expect(contents).toMatch(/^dev1:[A-Za-z0-9+/]{43}=\n$/);
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      expect(ring.keyIds).toEqual(['dev1']);
      // The ring holds the key that is in the file.
      expect(KeyRing.fromSpec(contents.trim()).decrypt(ring.encrypt('secret', CTX), CTX)).toBe(
        'secret',
      );
    });

    it('announces the development key in a block that stands out, naming the file but not the key', async () => {
      const announced: string[] = [];
      await loadKeyRing(
        developmentConfig(),
        capturingLogger().logger,
        (m) => void announced.push(m),
      );

      expect(announced).toHaveLength(1);
      expect(announced[0]).toMatch(/WARNING: DEVELOPMENT ENCRYPTION KEY/);
      expect(announced[0]).toContain(keyFile);
      expect(announced[0]).not.toContain((await readFile(keyFile, 'utf8')).trim().split(':')[1]);
    });

    it('generates a key in the test environment too', async () => {
      const config = loadConfig({ NODE_ENV: 'test', LATCHKEY_DATA_DIR: 'data' }, cwd);

      await loadKeyRing(config, capturingLogger().logger);

      expect(existsSync(keyFile)).toBe(true);
    });

    it('reuses the key file on later calls, so earlier data still decrypts', async () => {
      const first = await loadKeyRing(developmentConfig(), capturingLogger().logger);
      const stored = first.encrypt('survives restarts', CTX);
      const contents = await readFile(keyFile, 'utf8');

      const second = await loadKeyRing(developmentConfig(), capturingLogger().logger);

      expect(second.decrypt(stored, CTX)).toBe('survives restarts');
      expect(await readFile(keyFile, 'utf8')).toBe(contents);
    });

    it('uses an existing data directory', async () => {
      await mkdir(dataDir);

      await loadKeyRing(developmentConfig(), capturingLogger().logger);

      expect(existsSync(keyFile)).toBe(true);
    });

    it('warns that a development key is in use, naming the file but never the key', async () => {
      const { logger, raw, entries } = capturingLogger();

      await loadKeyRing(developmentConfig(), logger);

      const warnings = entries().filter((e) => e.level === 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0].msg).toMatch(
        /^LATCHKEY_ENCRYPTION_KEYS is not set: using a development key/,
      );
      expect(warnings[0].file).toBe(keyFile);
      const key = (await readFile(keyFile, 'utf8')).trim().slice('dev1:'.length);
      expect(raw.join('\n')).not.toContain(key);
    });

    it('warns again when it reuses an existing key file', async () => {
      await loadKeyRing(developmentConfig(), capturingLogger().logger);
      const { logger, entries } = capturingLogger();

      await loadKeyRing(developmentConfig(), logger);

      expect(entries().filter((e) => e.level === 40)).toHaveLength(1);
    });

    it.each([
      ['is not a key ring', 'this is not a key ring\n'],
      ['is empty', ''],
      ['holds a short key', `dev1:${randomBytes(16).toString('base64')}\n`],
    ])(
      'fails with an error naming the file, and leaves the file alone, when it %s',
      async (_description, contents) => {
        await mkdir(dataDir);
        await writeFile(keyFile, contents, { mode: 0o600 });

        const failure = loadKeyRing(developmentConfig(), capturingLogger().logger);

        await expect(failure).rejects.toThrow(
          `${keyFile} is not a valid key ring: LATCHKEY_ENCRYPTION_KEYS entry 1`,
        );
        await failure.catch((error: Error) => {
          const key = contents.trim().split(':')[1];
          if (key) expect(error.message).not.toContain(key);
        });
        expect(await readFile(keyFile, 'utf8')).toBe(contents);
      },
    );

    it('refuses to generate a key in production', async () => {
      const production = loadConfig(
        {
          NODE_ENV: 'production',
          PUBLIC_URL: 'https://latchkey.example.com',
          LATCHKEY_DATA_DIR: 'data',
          LATCHKEY_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
        },
        cwd,
      );
      // loadConfig already refuses this; loadKeyRing must not rely on it.
      const config = { ...production, encryptionKeys: undefined };

      await expect(loadKeyRing(config, capturingLogger().logger)).rejects.toThrow(
        'LATCHKEY_ENCRYPTION_KEYS is required when NODE_ENV=production',
      );
      expect(existsSync(dataDir)).toBe(false);
    });
  });
});
