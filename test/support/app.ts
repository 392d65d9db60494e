import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import supertest from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/app.js';
import { KeyRing } from '../../src/common/crypto/key-ring.js';
import { createLogger } from '../../src/common/logging/logger.js';
import { RandomSource } from '../../src/common/random.js';
import { FakeClock } from '../../src/common/time/clock.js';
import { loadConfig, type AppConfig } from '../../src/config/config.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { freePort } from './net.js';

export const TEST_KEY_SPEC = `test1:${randomBytes(32).toString('base64')}`;

export interface TestApp {
  app: INestApplication;
  /** Base URL of the listening server, e.g. http://127.0.0.1:41234 */
  url: string;
  http: TestAgent;
  config: AppConfig;
  clock: FakeClock;
  keyRing: KeyRing;
  db: TestDatabase;
  dataSource: DataSource;
  /** Every log line written by this app (trace level, JSON). */
  logs: string[];
  /** What the app printed for humans (the initial admin password). */
  announcements: string[];
  /** Remember a secret the test saw; `close()` fails if any log line contains one. */
  secret(value: string): string;
  /** Log lines containing a remembered secret (should be empty). */
  leakedSecrets(): string[];
  /** Every secret remembered so far (e.g. to search stored events for them). */
  rememberedSecrets(): string[];
  close(options?: { keepDatabase?: boolean }): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Reuse a database (e.g. to restart the app on the same data). */
  db?: TestDatabase;
  clock?: FakeClock;
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = options.db ?? (await createTestDatabase());
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LATCHKEY_ENCRYPTION_KEYS: TEST_KEY_SPEC,
    LATCHKEY_ADMIN_EMAIL: 'admin@example.test',
    LATCHKEY_ADMIN_PASSWORD: 'correct horse battery staple',
    LOG_LEVEL: 'trace',
    // Tests drive the scheduler's ticks themselves, with the fake clock.
    LATCHKEY_SCHEDULER_ENABLED: 'false',
    ...options.env,
  };
  const baseConfig = loadConfig(env);
  const logs: string[] = [];
  const announcements: string[] = [];
  const secrets = new Set<string>([
    env.LATCHKEY_ENCRYPTION_KEYS.split(':')[1],
    ...(env.LATCHKEY_ADMIN_PASSWORD ? [env.LATCHKEY_ADMIN_PASSWORD] : []),
    ...(env.LATCHKEY_BOOTSTRAP_CLIENT_SECRET ? [env.LATCHKEY_BOOTSTRAP_CLIENT_SECRET] : []),
  ]);
  const logger = createLogger(baseConfig.logLevel, {
    write: (line: string) => void logs.push(line),
  });
  const clock = options.clock ?? new FakeClock(Date.now());
  const keyRing = KeyRing.fromSpec(baseConfig.encryptionKeys!);

  // API tokens are issued for PUBLIC_URL, so it must name the port the app really listens on.
  const port = await freePort();
  const config = env.PUBLIC_URL
    ? baseConfig
    : loadConfig({ ...env, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
  const app = await createApp({
    config,
    databaseUrl: db.url,
    keyRing,
    logger,
    clock,
    random: new RandomSource(),
    announce: (m) => void announcements.push(m),
  });
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const dataSource = app.get(DataSource);

  const leakedSecrets = () =>
    logs.filter((line) => [...secrets].some((s) => s.length >= 8 && line.includes(s)));
  return {
    app,
    url,
    http: supertest(url),
    config,
    clock,
    keyRing,
    db,
    dataSource,
    logs,
    announcements,
    secret(value: string) {
      secrets.add(value);
      return value;
    },
    leakedSecrets,
    rememberedSecrets: () => [...secrets],
    async close({ keepDatabase = false } = {}) {
      await app.close();
      if (!keepDatabase && !options.db) await db.drop();
      const leaked = leakedSecrets();
      if (leaked.length)
        throw new Error(`Secrets appeared in ${leaked.length} log line(s):\n${leaked.join('\n')}`);
    },
  };
}

/** Client credentials → access token, through the real token endpoint. */
export async function tokenFor(
  t: TestApp,
  clientId: string,
  clientSecret: string,
  scope?: string,
): Promise<string> {
  const res = await t.http
    .post('/api/v1/oauth/token')
    .type('form')
    .send({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      ...(scope ? { scope } : {}),
    });
  if (res.status !== 200)
    throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.body)}`);
  return t.secret(res.body.access_token as string);
}

export const BOOTSTRAP = {
  LATCHKEY_BOOTSTRAP_CLIENT_ID: 'bootstrap-admin',
  LATCHKEY_BOOTSTRAP_CLIENT_SECRET: 'bootstrap-secret-0123456789abcdefghijklmnop',
};

/** An app with every scope in the default workspace, and a token for it. */
export async function adminToken(t: TestApp): Promise<string> {
  return tokenFor(
    t,
    BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
    BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
  );
}
