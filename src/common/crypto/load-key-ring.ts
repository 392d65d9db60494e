import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { validateKeyRingSpec, type AppConfig } from '../../config/config.js';
import { KeyRing } from './key-ring.js';

/**
 * The key ring from LATCHKEY_ENCRYPTION_KEYS. Outside production, with no keys set, a key is made
 * once and kept in `<dataDir>/encryption-keys` (mode 0600) so local data survives restarts, and
 * `announce` (the terminal, at start) gets a warning that stands out from the log lines.
 */
export async function loadKeyRing(
  config: AppConfig,
  logger: Logger,
  announce: (message: string) => void = () => undefined,
): Promise<KeyRing> {
  if (config.encryptionKeys) return KeyRing.fromSpec(config.encryptionKeys);
  if (config.nodeEnv === 'production') {
    throw new Error('LATCHKEY_ENCRYPTION_KEYS is required when NODE_ENV=production');
  }
  const file = path.join(config.dataDir, 'encryption-keys');
  let spec: string;
  if (existsSync(file)) {
    spec = (await readFile(file, 'utf8')).trim();
    const problems = validateKeyRingSpec(spec);
    if (problems.length) throw new Error(`${file} is not a valid key ring: ${problems.join('; ')}`);
  } else {
    await mkdir(config.dataDir, { recursive: true, mode: 0o711 });
    spec = `dev1:${KeyRing.generateKey().toString('base64')}`;
    try {
      // 'wx': two processes starting on a fresh data dir must not each write their own key.
      await writeFile(file, `${spec}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      spec = (await readFile(file, 'utf8')).trim();
    }
  }
  logger.warn(
    { file },
    'LATCHKEY_ENCRYPTION_KEYS is not set: using a development key stored in the data directory. ' +
      'Anyone who can read that file can decrypt every stored secret. Set LATCHKEY_ENCRYPTION_KEYS for real use.',
  );
  announce(
    [
      '',
      '  !!! WARNING: DEVELOPMENT ENCRYPTION KEY !!!',
      '  LATCHKEY_ENCRYPTION_KEYS is not set, so Latchkey encrypts every stored secret with a key kept in',
      `    ${file}`,
      '  Anyone who can read that file can decrypt them all. Fine for trying Latchkey out; for real use',
      '  set LATCHKEY_ENCRYPTION_KEYS (see docs/configuration.md). NODE_ENV=production refuses to start without it.',
      '',
    ].join('\n'),
  );
  return KeyRing.fromSpec(spec);
}
