import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, validateKeyRingSpec } from './config.js';

type Env = Record<string, string | undefined>;

const CWD = path.resolve('/srv/latchkey');
const newKey = (bytes = 32): string => randomBytes(bytes).toString('base64');

/** A production environment that passes validation; tests override one variable at a time. */
function productionEnv(overrides: Env = {}): Env {
  return {
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://latchkey.example.com',
    LATCHKEY_ENCRYPTION_KEYS: `k1:${newKey()}`,
    ...overrides,
  };
}

function configErrorOf(env: Env): ConfigError {
  try {
    loadConfig(env, CWD);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  return expect.fail('expected loadConfig to reject the configuration');
}

const problemsOf = (env: Env): string[] => configErrorOf(env).problems;

describe('config', () => {
  describe(loadConfig.name, () => {
    it('returns the documented defaults when no variable is set', () => {
      expect(loadConfig({}, CWD)).toEqual({
        nodeEnv: 'development',
        host: '127.0.0.1',
        port: 3000,
        publicUrl: 'http://localhost:3000',
        databaseUrl: undefined,
        dataDir: path.join(CWD, '.latchkey'),
        embeddedPgPort: 54320,
        encryptionKeys: undefined,
        adminEmail: undefined,
        adminPassword: undefined,
        bootstrapClientId: undefined,
        bootstrapClientSecret: undefined,
        allowInsecureProviders: false,
        logLevel: 'info',
        apiBodyLimitBytes: 1024 * 1024,
        apiTokenTtlSeconds: 900,
        oauthRefreshTokenTtlDays: 30,
        schedulerEnabled: true,
        refreshIntervalSeconds: 30,
        refreshBatchSize: 200,
        refreshConcurrency: 8,
        refreshMarginSeconds: 600,
        proxyBodyLimitBytes: 10 * 1024 ** 2,
        proxyReplayLimitBytes: 1024 ** 2,
        proxyHeadersTimeoutMs: 30_000,
        proxyBodyTimeoutMs: 30_000,
        authMaxFailures: 10,
        authMaxFailuresPerAddress: 100,
        trustProxy: false,
        httpKeepAliveTimeoutMs: 65_000,
        changeFeedHeartbeatMs: 5_000,
        eventRetentionDays: 90,
        auditTokenHandouts: true,
        webhookTimeoutMs: 10_000,
        webhookPollIntervalMs: 1_000,
        webhookConcurrency: 16,
        webhookSecretOverlapHours: 24,
        smtp: undefined,
      });
    });

    it('returns a frozen object', () => {
      const config = loadConfig({}, CWD);

      expect(Object.isFrozen(config)).toBe(true);
      expect(() => {
        (config as { port: number }).port = 1;
      }).toThrow(TypeError);
      expect(config.port).toBe(3000);
    });

    it('reads every variable of a complete production configuration', () => {
      const keys = `k2:${newKey()},k1:${newKey()}`;
      const config = loadConfig(
        productionEnv({
          HOST: '0.0.0.0',
          PORT: '8080',
          PUBLIC_URL: 'https://auth.example.com/',
          DATABASE_URL: 'postgresql://latchkey:pw@db.internal:5432/latchkey',
          LATCHKEY_DATA_DIR: '/var/lib/latchkey',
          LATCHKEY_EMBEDDED_PG_PORT: '5433',
          LATCHKEY_ENCRYPTION_KEYS: keys,
          LATCHKEY_ADMIN_EMAIL: 'ops@example.com',
          LATCHKEY_ADMIN_PASSWORD: 'correct horse battery',
          LATCHKEY_BOOTSTRAP_CLIENT_ID: 'bootstrap-client',
          LATCHKEY_BOOTSTRAP_CLIENT_SECRET: 's'.repeat(32),
          LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'false',
          LOG_LEVEL: 'warn',
          LATCHKEY_API_BODY_LIMIT: '512kb',
          LATCHKEY_API_TOKEN_TTL_SECONDS: '600',
          LATCHKEY_SCHEDULER_ENABLED: 'false',
          LATCHKEY_REFRESH_INTERVAL_SECONDS: '10',
          LATCHKEY_REFRESH_BATCH_SIZE: '50',
          LATCHKEY_REFRESH_CONCURRENCY: '4',
          LATCHKEY_REFRESH_MARGIN_SECONDS: '300',
          LATCHKEY_PROXY_BODY_LIMIT: '20mb',
          LATCHKEY_PROXY_REPLAY_LIMIT: '256kb',
          LATCHKEY_PROXY_HEADERS_TIMEOUT_MS: '5000',
          LATCHKEY_PROXY_BODY_TIMEOUT_MS: '6000',
          LATCHKEY_AUTH_MAX_FAILURES: '5',
          LATCHKEY_AUTH_MAX_FAILURES_PER_ADDRESS: '40',
          LATCHKEY_TRUST_PROXY: 'loopback, 10.0.0.0/8',
          LATCHKEY_HTTP_KEEPALIVE_TIMEOUT_MS: '120000',
          LATCHKEY_CHANGE_FEED_HEARTBEAT_MS: '2000',
          LATCHKEY_EVENT_RETENTION_DAYS: '30',
          LATCHKEY_AUDIT_TOKEN_HANDOUTS: 'false',
          LATCHKEY_WEBHOOK_TIMEOUT_MS: '5000',
          LATCHKEY_WEBHOOK_POLL_INTERVAL_MS: '500',
          LATCHKEY_WEBHOOK_CONCURRENCY: '32',
          LATCHKEY_WEBHOOK_SECRET_OVERLAP_HOURS: '48',
        }),
        CWD,
      );

      expect(config).toEqual({
        nodeEnv: 'production',
        host: '0.0.0.0',
        port: 8080,
        publicUrl: 'https://auth.example.com',
        databaseUrl: 'postgresql://latchkey:pw@db.internal:5432/latchkey',
        dataDir: path.resolve('/var/lib/latchkey'),
        embeddedPgPort: 5433,
        encryptionKeys: keys,
        adminEmail: 'ops@example.com',
        adminPassword: 'correct horse battery',
        bootstrapClientId: 'bootstrap-client',
        bootstrapClientSecret: 's'.repeat(32),
        allowInsecureProviders: false,
        logLevel: 'warn',
        apiBodyLimitBytes: 512 * 1024,
        apiTokenTtlSeconds: 600,
        oauthRefreshTokenTtlDays: 30,
        schedulerEnabled: false,
        refreshIntervalSeconds: 10,
        refreshBatchSize: 50,
        refreshConcurrency: 4,
        refreshMarginSeconds: 300,
        proxyBodyLimitBytes: 20 * 1024 ** 2,
        proxyReplayLimitBytes: 256 * 1024,
        proxyHeadersTimeoutMs: 5000,
        proxyBodyTimeoutMs: 6000,
        authMaxFailures: 5,
        authMaxFailuresPerAddress: 40,
        trustProxy: 'loopback,10.0.0.0/8',
        httpKeepAliveTimeoutMs: 120_000,
        changeFeedHeartbeatMs: 2_000,
        eventRetentionDays: 30,
        auditTokenHandouts: false,
        webhookTimeoutMs: 5_000,
        webhookPollIntervalMs: 500,
        webhookConcurrency: 32,
        webhookSecretOverlapHours: 48,
      });
    });

    it('resolves a relative LATCHKEY_DATA_DIR against the working directory', () => {
      expect(loadConfig({ LATCHKEY_DATA_DIR: 'state/data' }, CWD).dataDir).toBe(
        path.join(CWD, 'state', 'data'),
      );
    });

    it('trims values and treats blank values as unset', () => {
      const config = loadConfig(
        { PORT: ' 8080 ', LOG_LEVEL: '   ', NODE_ENV: '', DATABASE_URL: ' ' },
        CWD,
      );

      expect(config.port).toBe(8080);
      expect(config.logLevel).toBe('info');
      expect(config.nodeEnv).toBe('development');
      expect(config.databaseUrl).toBeUndefined();
    });

    it('derives the default PUBLIC_URL from PORT', () => {
      expect(loadConfig({ PORT: '8080' }, CWD).publicUrl).toBe('http://localhost:8080');
    });

    it.each([
      ['https://latchkey.example.com/', 'https://latchkey.example.com'],
      ['https://latchkey.example.com', 'https://latchkey.example.com'],
      ['https://EXAMPLE.com:443/', 'https://example.com'],
      ['https://example.com:8443/', 'https://example.com:8443'],
    ])('normalises PUBLIC_URL %s to %s', (raw, expected) => {
      expect(loadConfig({ PUBLIC_URL: raw }, CWD).publicUrl).toBe(expected);
    });

    it('accepts http on a non-loopback host outside production', () => {
      expect(loadConfig({ PUBLIC_URL: 'http://latchkey.internal:3000' }, CWD).publicUrl).toBe(
        'http://latchkey.internal:3000',
      );
    });

    it.each([
      'https://latchkey.example.com',
      'http://localhost:3000',
      'http://LOCALHOST:3000',
      'http://127.0.0.1:3000',
      'http://127.10.20.30',
      'http://[::1]:8080',
    ])('accepts PUBLIC_URL %s when NODE_ENV=production', (publicUrl) => {
      expect(loadConfig(productionEnv({ PUBLIC_URL: publicUrl }), CWD).nodeEnv).toBe('production');
    });

    it.each([
      ['true', true],
      ['TRUE', true],
      ['1', true],
      ['false', false],
      ['0', false],
    ])('reads LATCHKEY_ALLOW_INSECURE_PROVIDERS=%s as %s outside production', (raw, expected) => {
      expect(
        loadConfig({ LATCHKEY_ALLOW_INSECURE_PROVIDERS: raw }, CWD).allowInsecureProviders,
      ).toBe(expected);
    });

    it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])(
      'accepts LOG_LEVEL=%s',
      (level) => {
        expect(loadConfig({ LOG_LEVEL: level }, CWD).logLevel).toBe(level);
      },
    );

    it.each([
      ['1024', 1024],
      ['4096b', 4096],
      ['1kb', 1024],
      ['512KB', 512 * 1024],
      ['100kib', 100 * 1024],
      ['1mb', 1024 ** 2],
      ['2 MiB', 2 * 1024 ** 2],
      ['64mb', 64 * 1024 ** 2],
    ])('reads LATCHKEY_API_BODY_LIMIT=%s as %i bytes', (raw, bytes) => {
      expect(loadConfig({ LATCHKEY_API_BODY_LIMIT: raw }, CWD).apiBodyLimitBytes).toBe(bytes);
    });

    it.each([
      ['PORT', '0', 'port', 0],
      ['PORT', '65535', 'port', 65535],
      ['LATCHKEY_EMBEDDED_PG_PORT', '1', 'embeddedPgPort', 1],
      ['LATCHKEY_EMBEDDED_PG_PORT', '65535', 'embeddedPgPort', 65535],
      ['LATCHKEY_API_TOKEN_TTL_SECONDS', '60', 'apiTokenTtlSeconds', 60],
      ['LATCHKEY_API_TOKEN_TTL_SECONDS', '3600', 'apiTokenTtlSeconds', 3600],
      ['LATCHKEY_OAUTH_REFRESH_TOKEN_TTL_DAYS', '1', 'oauthRefreshTokenTtlDays', 1],
      ['LATCHKEY_OAUTH_REFRESH_TOKEN_TTL_DAYS', '365', 'oauthRefreshTokenTtlDays', 365],
      ['LATCHKEY_REFRESH_INTERVAL_SECONDS', '1', 'refreshIntervalSeconds', 1],
      ['LATCHKEY_REFRESH_BATCH_SIZE', '10000', 'refreshBatchSize', 10_000],
      ['LATCHKEY_REFRESH_CONCURRENCY', '256', 'refreshConcurrency', 256],
      ['LATCHKEY_REFRESH_MARGIN_SECONDS', '30', 'refreshMarginSeconds', 30],
      ['LATCHKEY_AUTH_MAX_FAILURES', '0', 'authMaxFailures', 0],
      ['LATCHKEY_AUTH_MAX_FAILURES_PER_ADDRESS', '0', 'authMaxFailuresPerAddress', 0],
      ['LATCHKEY_TRUST_PROXY', '1', 'trustProxy', 1],
      ['LATCHKEY_TRUST_PROXY', '10', 'trustProxy', 10],
      ['LATCHKEY_TRUST_PROXY', 'false', 'trustProxy', false],
      [
        'LATCHKEY_TRUST_PROXY',
        '192.0.2.7,2001:db8::/32,uniquelocal',
        'trustProxy',
        '192.0.2.7,2001:db8::/32,uniquelocal',
      ],
      ['LATCHKEY_HTTP_KEEPALIVE_TIMEOUT_MS', '1000', 'httpKeepAliveTimeoutMs', 1000],
      ['LATCHKEY_CHANGE_FEED_HEARTBEAT_MS', '50', 'changeFeedHeartbeatMs', 50],
      ['LATCHKEY_CHANGE_FEED_HEARTBEAT_MS', '60000', 'changeFeedHeartbeatMs', 60_000],
      ['LATCHKEY_EVENT_RETENTION_DAYS', '1', 'eventRetentionDays', 1],
      ['LATCHKEY_EVENT_RETENTION_DAYS', '3650', 'eventRetentionDays', 3650],
      ['LATCHKEY_WEBHOOK_TIMEOUT_MS', '100', 'webhookTimeoutMs', 100],
      ['LATCHKEY_WEBHOOK_TIMEOUT_MS', '60000', 'webhookTimeoutMs', 60_000],
      ['LATCHKEY_WEBHOOK_POLL_INTERVAL_MS', '100', 'webhookPollIntervalMs', 100],
      ['LATCHKEY_WEBHOOK_CONCURRENCY', '256', 'webhookConcurrency', 256],
      ['LATCHKEY_WEBHOOK_SECRET_OVERLAP_HOURS', '0', 'webhookSecretOverlapHours', 0],
      ['LATCHKEY_WEBHOOK_SECRET_OVERLAP_HOURS', '168', 'webhookSecretOverlapHours', 168],
    ] as const)('accepts %s=%s at the edge of its range', (name, raw, field, expected) => {
      expect(loadConfig({ [name]: raw }, CWD)[field]).toBe(expected);
    });

    it.each([
      // [description, env, expected single problem]
      ...(
        [
          'true',
          '0',
          '11',
          'proxy.internal',
          '10.0.0.0/33',
          '2001:db8::/129',
          '10.0.0.1/8/1',
          'loopback,',
        ] as const
      ).map(
        (raw) =>
          [
            `LATCHKEY_TRUST_PROXY is "${raw}"`,
            { LATCHKEY_TRUST_PROXY: raw },
            /^LATCHKEY_TRUST_PROXY must be false, a number of proxy hops from 1 to 10, or a comma-separated list/,
          ] as const,
      ),
      [
        'NODE_ENV is not a known environment',
        { NODE_ENV: 'staging' },
        /^NODE_ENV must be one of development, test, production \(got "staging"\)$/,
      ],
      [
        'PORT is not a number',
        { PORT: 'http' },
        /^PORT must be a whole number from 0 to 65535 \(got "http"\)$/,
      ],
      ['PORT is above 65535', { PORT: '65536' }, /^PORT must be a whole number from 0 to 65535/],
      ['PORT is negative', { PORT: '-1' }, /^PORT must be a whole number from 0 to 65535/],
      ['PORT is fractional', { PORT: '80.5' }, /^PORT must be a whole number from 0 to 65535/],
      [
        'LATCHKEY_EVENT_RETENTION_DAYS is 0',
        { LATCHKEY_EVENT_RETENTION_DAYS: '0' },
        /^LATCHKEY_EVENT_RETENTION_DAYS must be a whole number from 1 to 3650 \(got "0"\)$/,
      ],
      [
        'LATCHKEY_WEBHOOK_TIMEOUT_MS is above a minute',
        { LATCHKEY_WEBHOOK_TIMEOUT_MS: '60001' },
        /^LATCHKEY_WEBHOOK_TIMEOUT_MS must be a whole number from 100 to 60000 \(got "60001"\)$/,
      ],
      [
        'LATCHKEY_WEBHOOK_SECRET_OVERLAP_HOURS is above a week',
        { LATCHKEY_WEBHOOK_SECRET_OVERLAP_HOURS: '169' },
        /^LATCHKEY_WEBHOOK_SECRET_OVERLAP_HOURS must be a whole number from 0 to 168/,
      ],
      [
        'LATCHKEY_CHANGE_FEED_HEARTBEAT_MS is below 50',
        { LATCHKEY_CHANGE_FEED_HEARTBEAT_MS: '10' },
        /^LATCHKEY_CHANGE_FEED_HEARTBEAT_MS must be a whole number from 50 to 60000 \(got "10"\)$/,
      ],
      [
        'LATCHKEY_EMBEDDED_PG_PORT is 0',
        { LATCHKEY_EMBEDDED_PG_PORT: '0' },
        /^LATCHKEY_EMBEDDED_PG_PORT must be a whole number from 1 to 65535 \(got "0"\)$/,
      ],
      [
        'LATCHKEY_EMBEDDED_PG_PORT is above 65535',
        { LATCHKEY_EMBEDDED_PG_PORT: '70000' },
        /^LATCHKEY_EMBEDDED_PG_PORT must be a whole number from 1 to 65535/,
      ],
      [
        'LATCHKEY_EMBEDDED_PG_PORT is not a number',
        { LATCHKEY_EMBEDDED_PG_PORT: 'pg' },
        /^LATCHKEY_EMBEDDED_PG_PORT must be a whole number/,
      ],
      [
        'LATCHKEY_SCHEDULER_ENABLED is not a boolean',
        { LATCHKEY_SCHEDULER_ENABLED: 'sometimes' },
        /^LATCHKEY_SCHEDULER_ENABLED must be true or false/,
      ],
      [
        'LATCHKEY_AUDIT_TOKEN_HANDOUTS is not a boolean',
        { LATCHKEY_AUDIT_TOKEN_HANDOUTS: 'yes' },
        /^LATCHKEY_AUDIT_TOKEN_HANDOUTS must be true or false/,
      ],
      [
        'LATCHKEY_REFRESH_INTERVAL_SECONDS is zero',
        { LATCHKEY_REFRESH_INTERVAL_SECONDS: '0' },
        /^LATCHKEY_REFRESH_INTERVAL_SECONDS must be a whole number from 1 to 3600/,
      ],
      [
        'LATCHKEY_REFRESH_CONCURRENCY is too high',
        { LATCHKEY_REFRESH_CONCURRENCY: '1000' },
        /^LATCHKEY_REFRESH_CONCURRENCY must be a whole number from 1 to 256/,
      ],
      [
        'LATCHKEY_AUTH_MAX_FAILURES is not a number',
        { LATCHKEY_AUTH_MAX_FAILURES: 'ten' },
        /^LATCHKEY_AUTH_MAX_FAILURES must be a whole number from 0 to 10000/,
      ],
      [
        'LATCHKEY_REFRESH_MARGIN_SECONDS is below 30',
        { LATCHKEY_REFRESH_MARGIN_SECONDS: '5' },
        /^LATCHKEY_REFRESH_MARGIN_SECONDS must be a whole number from 30 to 86400/,
      ],
      [
        'LATCHKEY_API_TOKEN_TTL_SECONDS is below 60',
        { LATCHKEY_API_TOKEN_TTL_SECONDS: '59' },
        /^LATCHKEY_API_TOKEN_TTL_SECONDS must be a whole number from 60 to 3600 \(got "59"\)$/,
      ],
      [
        'LATCHKEY_API_TOKEN_TTL_SECONDS is above 3600',
        { LATCHKEY_API_TOKEN_TTL_SECONDS: '3601' },
        /^LATCHKEY_API_TOKEN_TTL_SECONDS must be a whole number from 60 to 3600/,
      ],
      [
        'LATCHKEY_OAUTH_REFRESH_TOKEN_TTL_DAYS is 0',
        { LATCHKEY_OAUTH_REFRESH_TOKEN_TTL_DAYS: '0' },
        /^LATCHKEY_OAUTH_REFRESH_TOKEN_TTL_DAYS must be a whole number from 1 to 365 \(got "0"\)$/,
      ],
      [
        'LATCHKEY_API_TOKEN_TTL_SECONDS has a unit',
        { LATCHKEY_API_TOKEN_TTL_SECONDS: '15m' },
        /^LATCHKEY_API_TOKEN_TTL_SECONDS must be a whole number/,
      ],
      [
        'PUBLIC_URL is not a URL',
        { PUBLIC_URL: 'latchkey.example.com' },
        /^PUBLIC_URL must be an absolute http\(s\) URL \(got "latchkey\.example\.com"\)$/,
      ],
      [
        'PUBLIC_URL is a relative path',
        { PUBLIC_URL: '/latchkey' },
        /^PUBLIC_URL must be an absolute http\(s\) URL/,
      ],
      [
        'PUBLIC_URL uses ftp',
        { PUBLIC_URL: 'ftp://example.com' },
        /^PUBLIC_URL must use https \(or http on loopback\)/,
      ],
      [
        'PUBLIC_URL uses javascript:',
        { PUBLIC_URL: 'javascript:alert(1)' },
        /^PUBLIC_URL must use https \(or http on loopback\)/,
      ],
      [
        'PUBLIC_URL uses ws',
        { PUBLIC_URL: 'ws://localhost:3000' },
        /^PUBLIC_URL must use https \(or http on loopback\)/,
      ],
      [
        'PUBLIC_URL has a path prefix',
        { PUBLIC_URL: 'https://example.com/latchkey' },
        /^PUBLIC_URL must not have a path: serving Latchkey under a path prefix is not supported$/,
      ],
      [
        'PUBLIC_URL has a query',
        { PUBLIC_URL: 'https://example.com/?tenant=a' },
        /^PUBLIC_URL must not contain credentials, a query or a fragment$/,
      ],
      [
        'PUBLIC_URL has a fragment',
        { PUBLIC_URL: 'https://example.com/#top' },
        /^PUBLIC_URL must not contain credentials, a query or a fragment$/,
      ],
      [
        'PUBLIC_URL has a user name',
        { PUBLIC_URL: 'https://admin@example.com' },
        /^PUBLIC_URL must not contain credentials, a query or a fragment$/,
      ],
      [
        'PUBLIC_URL has a password',
        { PUBLIC_URL: 'https://admin:pw@example.com' },
        /^PUBLIC_URL must not contain credentials, a query or a fragment$/,
      ],
      [
        'PUBLIC_URL has a password without a user name',
        { PUBLIC_URL: 'https://:pw@example.com' },
        /^PUBLIC_URL must not contain credentials, a query or a fragment$/,
      ],
      [
        'LATCHKEY_ALLOW_INSECURE_PROVIDERS is not a boolean',
        { LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'yes' },
        /^LATCHKEY_ALLOW_INSECURE_PROVIDERS must be true or false \(got "yes"\)$/,
      ],
      [
        'DATABASE_URL is not a postgres URL',
        { DATABASE_URL: 'mysql://db.internal/latchkey' },
        /^DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ connection URL$/,
      ],
      [
        'DATABASE_URL has no scheme',
        { DATABASE_URL: 'db.internal:5432/latchkey' },
        /^DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ connection URL$/,
      ],
      [
        'LATCHKEY_ENCRYPTION_KEYS is malformed',
        { LATCHKEY_ENCRYPTION_KEYS: 'not-a-key-ring' },
        /^LATCHKEY_ENCRYPTION_KEYS entry 1 must look like id:base64key/,
      ],
      [
        'LATCHKEY_ADMIN_EMAIL has no @',
        { LATCHKEY_ADMIN_EMAIL: 'admin' },
        /^LATCHKEY_ADMIN_EMAIL must be an email address \(got "admin"\)$/,
      ],
      [
        'LATCHKEY_ADMIN_EMAIL contains a space',
        { LATCHKEY_ADMIN_EMAIL: 'ad min@example.com' },
        /^LATCHKEY_ADMIN_EMAIL must be an email address/,
      ],
      [
        'LATCHKEY_ADMIN_PASSWORD is shorter than 12 characters',
        { LATCHKEY_ADMIN_EMAIL: 'ops@example.com', LATCHKEY_ADMIN_PASSWORD: '12345678901' },
        /^LATCHKEY_ADMIN_PASSWORD must be at least 12 characters$/,
      ],
      [
        'LATCHKEY_ADMIN_PASSWORD is set without LATCHKEY_ADMIN_EMAIL',
        { LATCHKEY_ADMIN_PASSWORD: 'long enough password' },
        /^LATCHKEY_ADMIN_PASSWORD is set but LATCHKEY_ADMIN_EMAIL is not$/,
      ],
      [
        'LATCHKEY_BOOTSTRAP_CLIENT_ID is set alone',
        { LATCHKEY_BOOTSTRAP_CLIENT_ID: 'bootstrap-client' },
        /^LATCHKEY_BOOTSTRAP_CLIENT_ID and LATCHKEY_BOOTSTRAP_CLIENT_SECRET must be set together$/,
      ],
      [
        'LATCHKEY_BOOTSTRAP_CLIENT_SECRET is set alone',
        { LATCHKEY_BOOTSTRAP_CLIENT_SECRET: 's'.repeat(32) },
        /^LATCHKEY_BOOTSTRAP_CLIENT_ID and LATCHKEY_BOOTSTRAP_CLIENT_SECRET must be set together$/,
      ],
      [
        'LATCHKEY_BOOTSTRAP_CLIENT_ID is shorter than 8 characters',
        { LATCHKEY_BOOTSTRAP_CLIENT_ID: 'short', LATCHKEY_BOOTSTRAP_CLIENT_SECRET: 's'.repeat(32) },
        /^LATCHKEY_BOOTSTRAP_CLIENT_ID must be 8–128 characters/,
      ],
      [
        'LATCHKEY_BOOTSTRAP_CLIENT_ID is the CLI client id',
        {
          LATCHKEY_BOOTSTRAP_CLIENT_ID: 'latchkey-cli',
          LATCHKEY_BOOTSTRAP_CLIENT_SECRET: 's'.repeat(32),
        },
        /^LATCHKEY_BOOTSTRAP_CLIENT_ID must not be latchkey-cli/,
      ],
      [
        'LATCHKEY_BOOTSTRAP_CLIENT_ID is longer than 128 characters',
        {
          LATCHKEY_BOOTSTRAP_CLIENT_ID: 'c'.repeat(129),
          LATCHKEY_BOOTSTRAP_CLIENT_SECRET: 's'.repeat(32),
        },
        /^LATCHKEY_BOOTSTRAP_CLIENT_ID must be 8–128 characters/,
      ],
      [
        'LATCHKEY_BOOTSTRAP_CLIENT_ID has forbidden characters',
        {
          LATCHKEY_BOOTSTRAP_CLIENT_ID: 'client id!',
          LATCHKEY_BOOTSTRAP_CLIENT_SECRET: 's'.repeat(32),
        },
        /^LATCHKEY_BOOTSTRAP_CLIENT_ID must be 8–128 characters/,
      ],
      [
        'LATCHKEY_BOOTSTRAP_CLIENT_SECRET is shorter than 32 characters',
        {
          LATCHKEY_BOOTSTRAP_CLIENT_ID: 'bootstrap-client',
          LATCHKEY_BOOTSTRAP_CLIENT_SECRET: 's'.repeat(31),
        },
        /^LATCHKEY_BOOTSTRAP_CLIENT_SECRET must be at least 32 characters$/,
      ],
      [
        'LOG_LEVEL is unknown',
        { LOG_LEVEL: 'verbose' },
        /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent \(got "verbose"\)$/,
      ],
      [
        'LATCHKEY_API_BODY_LIMIT is below 1kb',
        { LATCHKEY_API_BODY_LIMIT: '1023' },
        /^LATCHKEY_API_BODY_LIMIT must be a size from 1kb to 64mb such as 512kb or 1mb \(got "1023"\)$/,
      ],
      [
        'LATCHKEY_API_BODY_LIMIT is above 64mb',
        { LATCHKEY_API_BODY_LIMIT: '65mb' },
        /^LATCHKEY_API_BODY_LIMIT must be a size from 1kb to 64mb/,
      ],
      [
        'LATCHKEY_API_BODY_LIMIT has an unknown unit',
        { LATCHKEY_API_BODY_LIMIT: '1gb' },
        /^LATCHKEY_API_BODY_LIMIT must be a size from 1kb to 64mb/,
      ],
      [
        'LATCHKEY_API_BODY_LIMIT is fractional',
        { LATCHKEY_API_BODY_LIMIT: '1.5mb' },
        /^LATCHKEY_API_BODY_LIMIT must be a size from 1kb to 64mb/,
      ],
      [
        'LATCHKEY_API_BODY_LIMIT is negative',
        { LATCHKEY_API_BODY_LIMIT: '-1kb' },
        /^LATCHKEY_API_BODY_LIMIT must be a size from 1kb to 64mb/,
      ],
      [
        'LATCHKEY_API_BODY_LIMIT has no number',
        { LATCHKEY_API_BODY_LIMIT: 'mb' },
        /^LATCHKEY_API_BODY_LIMIT must be a size from 1kb to 64mb/,
      ],
    ] as Array<[string, Env, RegExp]>)(
      'reports exactly one problem when %s',
      (_description, env, expected) => {
        const problems = problemsOf(env);

        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(expected);
      },
    );

    it.each([
      ['http on a public host name', 'http://latchkey.example.com'],
      ['http on a private address', 'http://10.0.0.5:3000'],
      ['http on the wildcard address', 'http://0.0.0.0:3000'],
      ['http on a host that only starts like loopback', 'http://127.0.0.1.example.com'],
      ['http on a host that only starts like localhost', 'http://localhost.example.com'],
    ])('refuses PUBLIC_URL with %s when NODE_ENV=production', (_description, publicUrl) => {
      expect(problemsOf(productionEnv({ PUBLIC_URL: publicUrl }))).toEqual([
        `PUBLIC_URL must use https when NODE_ENV=production (http is allowed only on loopback; got "${publicUrl}")`,
      ]);
    });

    it('requires LATCHKEY_ENCRYPTION_KEYS when NODE_ENV=production', () => {
      expect(problemsOf(productionEnv({ LATCHKEY_ENCRYPTION_KEYS: undefined }))).toEqual([
        'LATCHKEY_ENCRYPTION_KEYS is required when NODE_ENV=production',
      ]);
    });

    it('does not require LATCHKEY_ENCRYPTION_KEYS outside production', () => {
      expect(loadConfig({ NODE_ENV: 'test' }, CWD).encryptionKeys).toBeUndefined();
    });

    it('refuses LATCHKEY_ALLOW_INSECURE_PROVIDERS=true when NODE_ENV=production', () => {
      expect(problemsOf(productionEnv({ LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' }))).toEqual([
        'LATCHKEY_ALLOW_INSECURE_PROVIDERS=true is refused when NODE_ENV=production',
      ]);
    });

    it('accepts postgres:// and postgresql:// DATABASE_URLs', () => {
      expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db/latchkey' }, CWD).databaseUrl).toBe(
        'postgres://u:p@db/latchkey',
      );
      expect(loadConfig({ DATABASE_URL: 'postgresql://db/latchkey' }, CWD).databaseUrl).toBe(
        'postgresql://db/latchkey',
      );
    });

    it('names DATABASE_URL without echoing its value, which may hold a password', () => {
      const error = configErrorOf({
        DATABASE_URL: 'mysql://latchkey:hunter2-db-password@db.internal/latchkey',
      });

      expect(error.problems).toEqual([
        'DATABASE_URL must be a postgres:// or postgresql:// connection URL',
      ]);
      expect(error.message).toContain('DATABASE_URL');
      expect(error.message).not.toContain('hunter2-db-password');
      expect(error.message).not.toContain('db.internal');
    });

    it('names the variable of a bad key ring without echoing key material', () => {
      const shortKey = newKey(16);
      const error = configErrorOf({ LATCHKEY_ENCRYPTION_KEYS: `k1:${shortKey}` });

      expect(error.problems).toEqual([
        'LATCHKEY_ENCRYPTION_KEYS entry 1 (id "k1") must be a base64-encoded 32-byte key',
      ]);
      expect(error.message).not.toContain(shortKey);
    });

    it('never echoes a secret value in any message', () => {
      const secrets = {
        DATABASE_URL: 'mysql://root:db-secret-value@db/latchkey',
        LATCHKEY_ENCRYPTION_KEYS: `k1:${newKey(31)},k2:${newKey(33)}`,
        LATCHKEY_ADMIN_PASSWORD: 'pw-secret',
        LATCHKEY_BOOTSTRAP_CLIENT_SECRET: 'client-secret-value',
      };
      const error = configErrorOf({
        ...secrets,
        LATCHKEY_ADMIN_EMAIL: 'ops@example.com',
        LATCHKEY_BOOTSTRAP_CLIENT_ID: 'bootstrap-client',
      });

      // One problem per secret variable (two for the two bad keys), each naming it.
      expect(error.problems).toHaveLength(5);
      for (const name of Object.keys(secrets)) {
        expect(error.problems.some((p) => p.startsWith(name))).toBe(true);
      }
      expect(error.message).not.toContain('db-secret-value');
      expect(error.message).not.toContain('pw-secret');
      expect(error.message).not.toContain('client-secret-value');
      for (const entry of secrets.LATCHKEY_ENCRYPTION_KEYS.split(',')) {
        expect(error.message).not.toContain(entry.slice(3));
      }
    });

    it('reports every problem at once in one ConfigError', () => {
      const error = configErrorOf({
        NODE_ENV: 'staging',
        PORT: 'eighty',
        PUBLIC_URL: 'https://example.com/?x=1',
        DATABASE_URL: 'sqlite://file',
        LOG_LEVEL: 'loud',
        LATCHKEY_API_BODY_LIMIT: '1tb',
        LATCHKEY_BOOTSTRAP_CLIENT_ID: 'bootstrap-client',
      });

      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe('ConfigError');
      expect(error.problems.map((p) => p.split(' ')[0])).toEqual([
        'NODE_ENV',
        'PORT',
        'PUBLIC_URL',
        'DATABASE_URL',
        'LATCHKEY_BOOTSTRAP_CLIENT_ID',
        'LOG_LEVEL',
        'LATCHKEY_API_BODY_LIMIT',
      ]);
      for (const problem of error.problems) expect(error.message).toContain(`  - ${problem}`);
    });

    it('reports production-only problems together', () => {
      const problems = problemsOf({
        NODE_ENV: 'production',
        PUBLIC_URL: 'http://latchkey.example.com',
        LATCHKEY_ALLOW_INSECURE_PROVIDERS: '1',
      });

      expect(problems).toEqual([
        'PUBLIC_URL must use https when NODE_ENV=production (http is allowed only on loopback; got "http://latchkey.example.com")',
        'LATCHKEY_ENCRYPTION_KEYS is required when NODE_ENV=production',
        'LATCHKEY_ALLOW_INSECURE_PROVIDERS=true is refused when NODE_ENV=production',
      ]);
    });
  });

  describe(validateKeyRingSpec.name, () => {
    it('accepts one key', () => {
      expect(validateKeyRingSpec(`primary:${newKey()}`)).toEqual([]);
    });

    it('accepts several keys separated by commas, with spaces around entries', () => {
      expect(validateKeyRingSpec(`k-2:${newKey()} , k_1:${newKey()},K3:${newKey()}`)).toEqual([]);
    });

    it.each([
      ['has no id', () => `:${newKey()}`],
      ['is a bare key pasted without an id', () => newKey()],
      ['has an id with a space', () => `my key:${newKey()}`],
      ['has an id with a dot', () => `k.1:${newKey()}`],
      ['has an id longer than 32 characters', () => `${'k'.repeat(33)}:${newKey()}`],
      ['is empty after a trailing comma', () => `k1:${newKey()},`],
    ])('rejects an entry that %s, without echoing it', (_description, makeSpec) => {
      const spec = makeSpec();
      const problems = validateKeyRingSpec(spec);

      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(
        /^LATCHKEY_ENCRYPTION_KEYS entry \d must look like id:base64key with an id of 1–32 letters, digits, "_" or "-"$/,
      );
      for (const entry of spec.split(','))
        if (entry) expect(problems[0]).not.toContain(entry.slice(entry.indexOf(':') + 1));
    });

    it('names the position of the bad entry', () => {
      expect(validateKeyRingSpec(`a:${newKey()},b:${newKey()},c:${newKey(16)}`)).toEqual([
        'LATCHKEY_ENCRYPTION_KEYS entry 3 (id "c") must be a base64-encoded 32-byte key',
      ]);
    });

    it('rejects a repeated key id', () => {
      expect(validateKeyRingSpec(`k1:${newKey()},k2:${newKey()},k1:${newKey()}`)).toEqual([
        'LATCHKEY_ENCRYPTION_KEYS entry 3 repeats the key id "k1"',
      ]);
    });

    it.each([
      ['is not base64', 'not!base64*at#all$but%long^enough&to=be(32)bytes'],
      ['is base64url rather than base64', randomBytes(32).toString('base64url').replace(/^./, '-')],
      ['is 16 bytes', newKey(16)],
      ['is 31 bytes', newKey(31)],
      ['is 33 bytes', newKey(33)],
      ['is 64 bytes', newKey(64)],
      ['is empty', ''],
    ])('rejects a key that %s, without echoing it', (_description, key) => {
      const problems = validateKeyRingSpec(`k1:${key}`);

      expect(problems).toEqual([
        'LATCHKEY_ENCRYPTION_KEYS entry 1 (id "k1") must be a base64-encoded 32-byte key',
      ]);
    });

    it('never includes key material in any message', () => {
      const keys = [newKey(16), newKey(48), `${newKey()}!`];
      const problems = validateKeyRingSpec(`a:${keys[0]},a:${keys[1]},bad id:${keys[2]}`);

      expect(problems).toHaveLength(4);
      const text = problems.join('\n');
      for (const key of keys) {
        expect(text).not.toContain(key);
        expect(text).not.toContain(key.slice(0, 8));
      }
    });
  });

  describe('SMTP settings', () => {
    it('takes a URL or host settings, with a From address', () => {
      expect(
        loadConfig(
          {
            LATCHKEY_SMTP_URL: 'smtps://u:p@mail.example.com',
            LATCHKEY_SMTP_FROM: 'a@example.com',
          },
          CWD,
        ).smtp,
      ).toEqual({ transport: 'smtps://u:p@mail.example.com', from: 'a@example.com' });
      expect(
        loadConfig(
          {
            LATCHKEY_SMTP_HOST: 'mail.example.com',
            LATCHKEY_SMTP_PORT: '465',
            LATCHKEY_SMTP_USER: 'u',
            LATCHKEY_SMTP_PASSWORD: 'p',
            LATCHKEY_SMTP_FROM: 'Latchkey <a@example.com>',
          },
          CWD,
        ).smtp,
      ).toEqual({
        transport: {
          host: 'mail.example.com',
          port: 465,
          secure: true,
          auth: { user: 'u', pass: 'p' },
        },
        from: 'Latchkey <a@example.com>',
      });
    });

    it('names each problem and never echoes the URL, which may hold a password', () => {
      const text = configErrorOf({
        LATCHKEY_SMTP_URL: 'http://user:hunter2secret@mail.example.com',
        LATCHKEY_SMTP_USER: 'u',
      }).message;
      expect(text).toContain('LATCHKEY_SMTP_URL must be an smtp:// or smtps:// URL');
      expect(text).toContain('LATCHKEY_SMTP_FROM is required');
      expect(text).toContain('LATCHKEY_SMTP_USER and LATCHKEY_SMTP_PASSWORD must be set together');
      expect(text).not.toContain('hunter2secret');
      expect(configErrorOf({ LATCHKEY_SMTP_FROM: 'a@example.com' }).message).toContain(
        'neither LATCHKEY_SMTP_URL nor LATCHKEY_SMTP_HOST',
      );
    });
  });
});
