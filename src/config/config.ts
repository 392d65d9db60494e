import { isIP } from 'node:net';
import path from 'node:path';
import { CLI_CLIENT_ID } from '../modules/authorization/oauth-clients.js';

/** Validated, immutable configuration. Read once at start from the environment. */
export interface AppConfig {
  readonly nodeEnv: 'development' | 'test' | 'production';
  readonly host: string;
  readonly port: number;
  /** Origin (and optional path prefix) users and providers reach Latchkey at, without trailing slash. */
  readonly publicUrl: string;
  /** Unset: an embedded PostgreSQL is started under dataDir. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly embeddedPgPort: number;
  /** Raw `id:base64key,…`; parsed by the key ring. Secret. Unset: generated in development only. */
  readonly encryptionKeys: string | undefined;
  readonly adminEmail: string | undefined;
  /** Secret. */
  readonly adminPassword: string | undefined;
  readonly bootstrapClientId: string | undefined;
  /** Secret. */
  readonly bootstrapClientSecret: string | undefined;
  readonly allowInsecureProviders: boolean;
  readonly logLevel: LogLevel;
  readonly apiBodyLimitBytes: number;
  readonly apiTokenTtlSeconds: number;
  /** Lifetime of a refresh token of the authorization-code flow (each use rotates it). */
  readonly oauthRefreshTokenTtlDays: number;
  /** Run the refresh scheduler in this replica. */
  readonly schedulerEnabled: boolean;
  readonly refreshIntervalSeconds: number;
  readonly refreshBatchSize: number;
  readonly refreshConcurrency: number;
  /** Refresh this long before expiry at most (10% of the lifetime when that is smaller). */
  readonly refreshMarginSeconds: number;
  /** Largest request body the proxy forwards. */
  readonly proxyBodyLimitBytes: number;
  /** Request bodies up to this size are kept to replay after a 401 → refresh. */
  readonly proxyReplayLimitBytes: number;
  readonly proxyHeadersTimeoutMs: number;
  readonly proxyBodyTimeoutMs: number;
  /** How long an idle keep-alive connection to Latchkey stays open. */
  readonly httpKeepAliveTimeoutMs: number;
  /** Failed sign-ins per email, and failed client authentications per OAuth App, per 15 minutes (0: no limit). */
  readonly authMaxFailures: number;
  /** Failed sign-ins per client address (an IPv6 /64) per 15 minutes, whatever the email (0: no limit). */
  readonly authMaxFailuresPerAddress: number;
  /**
   * Express's `trust proxy`: which proxies' `X-Forwarded-For` names the client address. False: none,
   * the socket's peer is the client; a number: that many proxy hops; or a list of proxy addresses.
   */
  readonly trustProxy: false | number | string;
  /**
   * How often the change feed checks its listening connection with a notification to itself. Two
   * heartbeats in a row not echoed: the feed is down (caches bypassed, not ready) and reconnects.
   */
  readonly changeFeedHeartbeatMs: number;
  /** Events older than this many days are purged (the audit log's retention). */
  readonly eventRetentionDays: number;
  /** Record `token.handed_out` for every access-token handout (false: those events only are skipped). */
  readonly auditTokenHandouts: boolean;
  /** How long a webhook receiver has to answer one delivery attempt. */
  readonly webhookTimeoutMs: number;
  /** How often the delivery worker looks for due deliveries when no notification woke it. */
  readonly webhookPollIntervalMs: number;
  /** Deliveries sent at once by one replica. */
  readonly webhookConcurrency: number;
  /** After a secret rotation, how long the previous secret keeps signing beside the new one. */
  readonly webhookSecretOverlapHours: number;
  /** Where invitation emails go; undefined: no mail server, the inviter is shown the link. */
  readonly smtp: SmtpConfig | undefined;
}

/** An SMTP server for invitation emails (nodemailer transport options). Holds a secret. */
export interface SmtpConfig {
  /** `smtp://` or `smtps://` URL (may carry credentials), or host settings. */
  readonly transport:
    | string
    | {
        host: string;
        port: number;
        /** Implicit TLS (port 465); otherwise STARTTLS when the server offers it. */
        secure: boolean;
        auth?: { user: string; pass: string };
      };
  /** The From address, e.g. `Latchkey <latchkey@example.com>`. */
  readonly from: string;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every problem found, each naming its variable; start-up prints them all and exits non-zero. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Variables whose values are never printed, logged or echoed in an error message. */
export const SECRET_VARIABLES = [
  'DATABASE_URL',
  'LATCHKEY_ENCRYPTION_KEYS',
  'LATCHKEY_ADMIN_PASSWORD',
  'LATCHKEY_BOOTSTRAP_CLIENT_SECRET',
  'LATCHKEY_SMTP_URL',
  'LATCHKEY_SMTP_PASSWORD',
] as const;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
};

export function loadConfig(env: Env, cwd = process.cwd()): AppConfig {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  const nodeEnvRaw = value('NODE_ENV') ?? 'development';
  let nodeEnv: AppConfig['nodeEnv'] = 'development';
  if (nodeEnvRaw === 'development' || nodeEnvRaw === 'test' || nodeEnvRaw === 'production') {
    nodeEnv = nodeEnvRaw;
  } else {
    problems.push(`NODE_ENV must be one of development, test, production (got "${nodeEnvRaw}")`);
  }
  const production = nodeEnv === 'production';

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  };
  const boolean = (name: string): boolean => {
    const raw = value(name)?.toLowerCase();
    if (raw === undefined || raw === 'false' || raw === '0') return false;
    if (raw === 'true' || raw === '1') return true;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return false;
  };

  const port = integer('PORT', 3000, 0, 65535);
  const host = value('HOST') ?? '127.0.0.1';
  const embeddedPgPort = integer('LATCHKEY_EMBEDDED_PG_PORT', 54320, 1, 65535);
  const apiTokenTtlSeconds = integer('LATCHKEY_API_TOKEN_TTL_SECONDS', 900, 60, 3600);
  const oauthRefreshTokenTtlDays = integer('LATCHKEY_OAUTH_REFRESH_TOKEN_TTL_DAYS', 30, 1, 365);
  const refreshIntervalSeconds = integer('LATCHKEY_REFRESH_INTERVAL_SECONDS', 30, 1, 3600);
  const refreshBatchSize = integer('LATCHKEY_REFRESH_BATCH_SIZE', 200, 1, 10_000);
  const refreshConcurrency = integer('LATCHKEY_REFRESH_CONCURRENCY', 8, 1, 256);
  const refreshMarginSeconds = integer('LATCHKEY_REFRESH_MARGIN_SECONDS', 600, 30, 86_400);

  let publicUrl = `http://localhost:${port}`;
  const publicUrlRaw = value('PUBLIC_URL');
  if (publicUrlRaw !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(publicUrlRaw);
    } catch {
      problems.push(
        `PUBLIC_URL must be an absolute http(s) URL (got "${redactUserinfo(publicUrlRaw)}")`,
      );
    }
    if (parsed) {
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
        problems.push(
          `PUBLIC_URL must use https (or http on loopback) (got "${redactUserinfo(publicUrlRaw)}")`,
        );
      } else if (parsed.search || parsed.hash || parsed.username || parsed.password) {
        problems.push('PUBLIC_URL must not contain credentials, a query or a fragment');
      } else if (parsed.pathname.replace(/\/+$/, '') !== '') {
        // Pages, cookies and the callback live at the root; a path prefix would break the flows.
        problems.push(
          'PUBLIC_URL must not have a path: serving Latchkey under a path prefix is not supported',
        );
      } else if (production && parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname)) {
        problems.push(
          `PUBLIC_URL must use https when NODE_ENV=production (http is allowed only on loopback; got "${redactUserinfo(publicUrlRaw)}")`,
        );
      } else {
        publicUrl = `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
      }
    }
  }

  const databaseUrl = value('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    // The value may contain a password: name the variable, never echo it.
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// connection URL');
  }

  const dataDir = path.resolve(cwd, value('LATCHKEY_DATA_DIR') ?? '.latchkey');

  const encryptionKeys = value('LATCHKEY_ENCRYPTION_KEYS');
  if (production && encryptionKeys === undefined) {
    problems.push('LATCHKEY_ENCRYPTION_KEYS is required when NODE_ENV=production');
  } else if (encryptionKeys !== undefined) {
    problems.push(...validateKeyRingSpec(encryptionKeys));
  }

  const adminEmail = value('LATCHKEY_ADMIN_EMAIL');
  const adminPassword = value('LATCHKEY_ADMIN_PASSWORD');
  if (adminEmail !== undefined && !/^[^\s@]+@[^\s@]+$/.test(adminEmail)) {
    problems.push(`LATCHKEY_ADMIN_EMAIL must be an email address (got "${adminEmail}")`);
  }
  if (adminPassword !== undefined && adminPassword.length < 12) {
    problems.push('LATCHKEY_ADMIN_PASSWORD must be at least 12 characters');
  }
  if (adminPassword !== undefined && adminEmail === undefined) {
    problems.push('LATCHKEY_ADMIN_PASSWORD is set but LATCHKEY_ADMIN_EMAIL is not');
  }

  const bootstrapClientId = value('LATCHKEY_BOOTSTRAP_CLIENT_ID');
  const bootstrapClientSecret = value('LATCHKEY_BOOTSTRAP_CLIENT_SECRET');
  if ((bootstrapClientId === undefined) !== (bootstrapClientSecret === undefined)) {
    problems.push(
      'LATCHKEY_BOOTSTRAP_CLIENT_ID and LATCHKEY_BOOTSTRAP_CLIENT_SECRET must be set together',
    );
  }
  if (bootstrapClientId !== undefined && !/^[A-Za-z0-9._~-]{8,128}$/.test(bootstrapClientId)) {
    problems.push(
      'LATCHKEY_BOOTSTRAP_CLIENT_ID must be 8–128 characters of letters, digits, ".", "_", "~" or "-"',
    );
  }
  if (bootstrapClientId === CLI_CLIENT_ID) {
    problems.push(
      `LATCHKEY_BOOTSTRAP_CLIENT_ID must not be ${CLI_CLIENT_ID}, the CLI's built-in client`,
    );
  }
  if (bootstrapClientSecret !== undefined && bootstrapClientSecret.length < 32) {
    problems.push('LATCHKEY_BOOTSTRAP_CLIENT_SECRET must be at least 32 characters');
  }

  const allowInsecureProviders = boolean('LATCHKEY_ALLOW_INSECURE_PROVIDERS');
  const schedulerEnabled =
    value('LATCHKEY_SCHEDULER_ENABLED') === undefined
      ? true
      : boolean('LATCHKEY_SCHEDULER_ENABLED');
  if (production && allowInsecureProviders) {
    problems.push('LATCHKEY_ALLOW_INSECURE_PROVIDERS=true is refused when NODE_ENV=production');
  }

  const logLevelRaw = value('LOG_LEVEL') ?? 'info';
  const logLevel = (LOG_LEVELS as readonly string[]).includes(logLevelRaw)
    ? (logLevelRaw as LogLevel)
    : (problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevelRaw}")`),
      'info' as const);

  const size = (name: string, fallback: number, maxMb: number): number => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const m = /^(\d+)\s*([a-z]*)$/i.exec(raw);
    const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
    if (
      !m ||
      unit === undefined ||
      Number(m[1]) * unit < 1024 ||
      Number(m[1]) * unit > maxMb * 1024 ** 2
    ) {
      problems.push(
        `${name} must be a size from 1kb to ${maxMb}mb such as 512kb or 1mb (got "${raw}")`,
      );
      return fallback;
    }
    return Number(m[1]) * unit;
  };
  const apiBodyLimitBytes = size('LATCHKEY_API_BODY_LIMIT', 1024 ** 2, 64);
  const proxyBodyLimitBytes = size('LATCHKEY_PROXY_BODY_LIMIT', 10 * 1024 ** 2, 1024);
  const proxyReplayLimitBytes = size('LATCHKEY_PROXY_REPLAY_LIMIT', 1024 ** 2, 64);
  const proxyHeadersTimeoutMs = integer('LATCHKEY_PROXY_HEADERS_TIMEOUT_MS', 30_000, 100, 600_000);
  const proxyBodyTimeoutMs = integer('LATCHKEY_PROXY_BODY_TIMEOUT_MS', 30_000, 100, 600_000);
  const authMaxFailures = integer('LATCHKEY_AUTH_MAX_FAILURES', 10, 0, 10_000);
  const httpKeepAliveTimeoutMs = integer(
    'LATCHKEY_HTTP_KEEPALIVE_TIMEOUT_MS',
    65_000,
    1_000,
    600_000,
  );
  const authMaxFailuresPerAddress = integer(
    'LATCHKEY_AUTH_MAX_FAILURES_PER_ADDRESS',
    100,
    0,
    100_000,
  );
  const trustProxy = parseTrustProxy(value('LATCHKEY_TRUST_PROXY'), problems);
  const changeFeedHeartbeatMs = integer('LATCHKEY_CHANGE_FEED_HEARTBEAT_MS', 5_000, 50, 60_000);
  const eventRetentionDays = integer('LATCHKEY_EVENT_RETENTION_DAYS', 90, 1, 3650);
  const auditTokenHandouts =
    value('LATCHKEY_AUDIT_TOKEN_HANDOUTS') === undefined
      ? true
      : boolean('LATCHKEY_AUDIT_TOKEN_HANDOUTS');
  const webhookTimeoutMs = integer('LATCHKEY_WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000);
  const webhookPollIntervalMs = integer('LATCHKEY_WEBHOOK_POLL_INTERVAL_MS', 1_000, 100, 60_000);
  const webhookConcurrency = integer('LATCHKEY_WEBHOOK_CONCURRENCY', 16, 1, 256);
  const webhookSecretOverlapHours = integer('LATCHKEY_WEBHOOK_SECRET_OVERLAP_HOURS', 24, 0, 168);
  const smtp = parseSmtp(value, integer, boolean, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    nodeEnv,
    host,
    port,
    publicUrl,
    databaseUrl,
    dataDir,
    embeddedPgPort,
    encryptionKeys,
    adminEmail,
    adminPassword,
    bootstrapClientId,
    bootstrapClientSecret,
    allowInsecureProviders,
    logLevel,
    apiBodyLimitBytes,
    apiTokenTtlSeconds,
    oauthRefreshTokenTtlDays,
    schedulerEnabled,
    refreshIntervalSeconds,
    refreshBatchSize,
    refreshConcurrency,
    refreshMarginSeconds,
    proxyBodyLimitBytes,
    proxyReplayLimitBytes,
    proxyHeadersTimeoutMs,
    proxyBodyTimeoutMs,
    authMaxFailures,
    authMaxFailuresPerAddress,
    trustProxy,
    httpKeepAliveTimeoutMs,
    changeFeedHeartbeatMs,
    eventRetentionDays,
    auditTokenHandouts,
    webhookTimeoutMs,
    webhookPollIntervalMs,
    webhookConcurrency,
    webhookSecretOverlapHours,
    smtp,
  });
}

/**
 * `LATCHKEY_SMTP_URL`, or `LATCHKEY_SMTP_HOST` with `_PORT` (587), `_SECURE`, `_USER` and
 * `_PASSWORD`; either way `LATCHKEY_SMTP_FROM`. Nothing set: no mail server.
 */
function parseSmtp(
  value: (name: string) => string | undefined,
  integer: (name: string, fallback: number, min: number, max: number) => number,
  boolean: (name: string) => boolean,
  problems: string[],
): SmtpConfig | undefined {
  const url = value('LATCHKEY_SMTP_URL');
  const host = value('LATCHKEY_SMTP_HOST');
  const from = value('LATCHKEY_SMTP_FROM');
  const user = value('LATCHKEY_SMTP_USER');
  const pass = value('LATCHKEY_SMTP_PASSWORD');
  const port = integer('LATCHKEY_SMTP_PORT', 587, 1, 65535);
  const secure =
    value('LATCHKEY_SMTP_SECURE') === undefined ? port === 465 : boolean('LATCHKEY_SMTP_SECURE');
  if (url === undefined && host === undefined) {
    for (const name of [
      'LATCHKEY_SMTP_FROM',
      'LATCHKEY_SMTP_USER',
      'LATCHKEY_SMTP_PASSWORD',
      'LATCHKEY_SMTP_PORT',
    ])
      if (value(name) !== undefined)
        problems.push(`${name} is set but neither LATCHKEY_SMTP_URL nor LATCHKEY_SMTP_HOST is`);
    return undefined;
  }
  const before = problems.length;
  if (url !== undefined && host !== undefined)
    problems.push('Set LATCHKEY_SMTP_URL or LATCHKEY_SMTP_HOST, not both');
  // The URL may carry a password: name the variable, never echo it.
  if (url !== undefined && !/^smtps?:\/\/[^/\s]+/.test(url))
    problems.push('LATCHKEY_SMTP_URL must be an smtp:// or smtps:// URL');
  if (host !== undefined && !/^[A-Za-z0-9.:[\]-]{1,253}$/.test(host))
    problems.push(`LATCHKEY_SMTP_HOST must be a host name or address (got "${host}")`);
  if ((user === undefined) !== (pass === undefined))
    problems.push('LATCHKEY_SMTP_USER and LATCHKEY_SMTP_PASSWORD must be set together');
  if (from === undefined)
    problems.push('LATCHKEY_SMTP_FROM is required when an SMTP server is configured');
  else if (!/^[^\r\n]*<?[^\s@<>]+@[^\s@<>]+>?$/.test(from))
    problems.push(
      `LATCHKEY_SMTP_FROM must be an email address, optionally with a name (got "${from}")`,
    );
  if (problems.length > before) return undefined;
  return {
    transport: url ?? {
      host: host!,
      port,
      secure,
      ...(user && pass ? { auth: { user, pass } } : {}),
    },
    from: from!,
  };
}

const PROXY_PRESETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * `LATCHKEY_TRUST_PROXY`: unset or `false` (trust no proxy), a hop count from 1 to 10, or a
 * comma-separated list of proxy addresses, CIDR ranges and the presets `loopback`, `linklocal`,
 * `uniquelocal`. `true` (trust any `X-Forwarded-For`) is refused: any client could then pick the
 * address it is counted under.
 */
function parseTrustProxy(raw: string | undefined, problems: string[]): false | number | string {
  if (raw === undefined || raw.trim() === '' || raw.trim().toLowerCase() === 'false') return false;
  const text = raw.trim();
  if (/^\d+$/.test(text)) {
    if (Number(text) >= 1 && Number(text) <= 10) return Number(text);
  } else if (text.toLowerCase() !== 'true') {
    const entries = text.split(',').map((e) => e.trim().toLowerCase());
    const valid = entries.every((entry) => {
      if (PROXY_PRESETS.has(entry)) return true;
      const [address, prefix, extra] = entry.split('/');
      const family = isIP(address);
      if (!family || extra !== undefined) return false;
      return (
        prefix === undefined ||
        (/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128))
      );
    });
    if (valid) return entries.join(',');
  }
  problems.push(
    'LATCHKEY_TRUST_PROXY must be false, a number of proxy hops from 1 to 10, or a comma-separated list of proxy addresses, CIDR ranges, loopback, linklocal or uniquelocal' +
      ` (got "${raw}"; "true" is refused: any client could then choose the address it is counted under)`,
  );
  return false;
}

/** Syntax check of `id:base64key,…` (32-byte AES-256 keys, unique ids). Never echoes key material. */
export function validateKeyRingSpec(spec: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const entries = spec.split(',').map((e) => e.trim());
  entries.forEach((entry, index) => {
    const sep = entry.indexOf(':');
    const id = sep > 0 ? entry.slice(0, sep) : '';
    const key = sep > 0 ? entry.slice(sep + 1) : '';
    const where = `LATCHKEY_ENCRYPTION_KEYS entry ${index + 1}`;
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
      problems.push(
        `${where} must look like id:base64key with an id of 1–32 letters, digits, "_" or "-"`,
      );
      return;
    }
    if (seen.has(id)) problems.push(`${where} repeats the key id "${id}"`);
    seen.add(id);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length !== 32) {
      problems.push(`${where} (id "${id}") must be a base64-encoded 32-byte key`);
    }
  });
  return problems;
}

/** A URL-ish string with any `user:password@` part masked, safe to echo in an error message. */
function redactUserinfo(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
}
