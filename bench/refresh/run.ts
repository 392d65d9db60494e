/**
 * Token refresh benchmark (`npm run bench:refresh`; not part of `npm test`).
 *
 * 1. Throughput: N connections (default 10,000) are due at once; 1 or 2 real Latchkey processes
 *    (bench/refresh/worker.ts, scheduler enabled) refresh them against the in-repo Salesforce test
 *    provider with 20 ms token latency. Reports refreshes/s against a baseline measured in the same
 *    run (direct refresh_token requests to the provider at the same process count and
 *    concurrency), and duplicate refreshes (provider calls per refresh token; must be 0).
 * 2. Batch selection: the scheduler's claim query with 100k and 1M connections stored, ~1% due,
 *    with the partial index and (baseline) without it.
 *
 * Loopback only; embedded PostgreSQL in a temporary directory unless DATABASE_URL is set (then a
 * scratch database is created on that server and dropped). Bounded: stops itself after
 * BENCH_DEADLINE_SECONDS (default 270). `--write-docs` replaces the results block of
 * docs/benchmarks.md.
 */
import 'reflect-metadata';
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createApp } from '../../src/app.js';
import { KeyRing } from '../../src/common/crypto/key-ring.js';
import { createLogger } from '../../src/common/logging/logger.js';
import { RandomSource } from '../../src/common/random.js';
import { SystemClock } from '../../src/common/time/clock.js';
import { loadConfig } from '../../src/config/config.js';
import { createDataSource, migrate } from '../../src/database/data-source.js';
import {
  startEmbeddedPostgres,
  type EmbeddedDatabase,
} from '../../src/database/embedded-postgres.js';
import { SalesforceTestProvider } from '../../tools/providers/salesforce/index.js';
import { freePort } from '../../test/support/net.js';
import type {
  BaselineCommand,
  BaselineEvent,
  PassRecord,
  WorkerCommand,
  WorkerEvent,
} from './protocol.js';
import { benchmarkSelection, type SelectionResult } from './selection.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');

// ---- settings (environment overrides) ------------------------------------------------------

const int = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number`);
  return Number(raw);
};
const list = (name: string, fallback: string) =>
  (process.env[name] || fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

interface Scenario {
  processes: number;
  concurrency: number;
  /** How many of the connections are due in this round. */
  connections: number;
}

const SETTINGS = {
  connections: int('BENCH_CONNECTIONS', 10_000),
  latencyMs: int('BENCH_LATENCY_MS', 20),
  batchSize: int('BENCH_BATCH_SIZE', 500),
  intervalSeconds: int('BENCH_INTERVAL_SECONDS', 1),
  /** "processes x concurrency", optionally "@connections due" (default: all of them). */
  scenarios: list('BENCH_SCENARIOS', '1x8,2x8,1x32@2000,2x32@2000')
    .filter((s) => s !== 'none')
    .map((s): Scenario => {
      const m = /^(\d+)x(\d+)(?:@(\d+))?$/.exec(s);
      if (!m)
        throw new Error(
          `BENCH_SCENARIOS entries look like 2x8 or 2x32@3000 (processes x concurrency @ due), got "${s}"`,
        );
      const connections = Math.min(int('BENCH_CONNECTIONS', 10_000), Number(m[3] ?? Infinity));
      return { processes: Number(m[1]), concurrency: Number(m[2]), connections };
    }),
  baselineRequests: int('BENCH_BASELINE_REQUESTS', 2_000),
  selectionSizes: list('BENCH_SELECTION_SIZES', '100000,1000000').map(Number),
  selectionRuns: int('BENCH_SELECTION_RUNS', 20),
  selectionBatch: 200,
  /** Width of the credentials_enc stand-in in the selection table (0: as wide as the seeded ones). */
  selectionRowBytes: int('BENCH_SELECTION_ROW_BYTES', 0),
  roundTimeoutSeconds: int('BENCH_ROUND_TIMEOUT_SECONDS', 90),
  // With the build before it, the whole `npm run bench:refresh` stays under 5 minutes.
  deadlineSeconds: int('BENCH_DEADLINE_SECONDS', 270),
};
const WRITE_DOCS = process.argv.includes('--write-docs');
/** What the batch-selection part needs at the default sizes on a 2-core machine, with margin. */
const SELECTION_RESERVE_SECONDS = SETTINGS.selectionSizes.reduce((a, n) => a + n, 0) / 20_000;
const label = (s: Scenario) =>
  `${s.processes}x${s.concurrency}${s.connections < SETTINGS.connections ? `@${s.connections}` : ''}`;

const SF_APP = { clientId: '3MVG9bench.refresh', clientSecret: 'bench-refresh-consumer-secret-1' };
const BOOTSTRAP = { id: 'bench-bootstrap', secret: `bench-${randomBytes(24).toString('hex')}` };
const KEY_SPEC = `bench1:${randomBytes(32).toString('base64')}`;

// ---- plumbing -------------------------------------------------------------------------------

const started = performance.now();
const progress = (message: string) =>
  process.stderr.write(
    `[${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] ${message}\n`,
  );

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<unknown>> = [];
let cleaningUp: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    for (const child of children)
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    for (const fn of cleanups.reverse())
      await fn().catch((e: unknown) => progress(`cleanup: ${String(e)}`));
  })();
  return cleaningUp;
}
const deadline = setTimeout(() => {
  progress(`deadline of ${SETTINGS.deadlineSeconds}s reached: stopping`);
  void cleanup().finally(() => process.exit(2));
}, SETTINGS.deadlineSeconds * 1000);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanup().finally(() => process.exit(130)));
}

/** Forks a child with IPC; its output is kept (last lines) for error reports. */
function spawnChild(
  script: string,
  env: Record<string, string>,
): { child: ChildProcess; output: string[] } {
  const output: string[] = [];
  const child = fork(path.join(here, script), [], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // BENCH_PROFILE_DIR: V8 CPU profiles of every child (open them in Chrome DevTools).
    execArgv: process.env.BENCH_PROFILE_DIR
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
      : [],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    if (output.length > 40) output.splice(0, output.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output };
}

function nextMessage<T extends { type: string }>(
  child: ChildProcess,
  output: string[],
  type: T['type'],
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        finish(new Error(`no "${type}" from child within ${timeoutMs} ms\n${output.join('\n')}`)),
      timeoutMs,
    );
    const onMessage = (message: T) => {
      if (message.type === type) finish(undefined, message);
      else if (message.type === 'error')
        finish(new Error(`child failed: ${(message as unknown as { message: string }).message}`));
    };
    const onExit = (code: number | null) =>
      finish(new Error(`child exited (${code}) before "${type}"\n${output.join('\n')}`));
    const finish = (error?: Error, message?: T) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message!);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Busy (without steal), stolen and total jiffies of the whole machine (/proc/stat). */
function cpuTimes(): { busy: number; steal: number; total: number } {
  try {
    const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync(
      '/proc/stat',
      'utf8',
    )
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const busy = user + nice + system + irq + softirq;
    return { busy, steal, total: busy + steal + idle + iowait };
  } catch {
    return { busy: 0, steal: 0, total: 0 };
  }
}

/** CPU seconds (user + system) of every PostgreSQL server process on this machine, by pid. */
function postgresCpu(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byPid.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS);
    } catch {
      // The process went away meanwhile.
    }
  }
  return byPid;
}
const CLOCK_TICKS = 100; // USER_HZ on Linux

function postgresCpuSince(before: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of postgresCpu()) total += seconds - (before.get(pid) ?? 0);
  return total;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [
    line(headers),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map((r) => line(r.map(String))),
  ].join('\n');
}

// ---- the run --------------------------------------------------------------------------------

interface World {
  databaseUrl: string;
  pool: pg.Pool;
  provider: SalesforceTestProvider;
  workspaceId: string;
  integrationId: string;
  connectionIds: string[];
  refreshTokens: string[];
  /** The credentials_version each connection should have. */
  versions: Map<string, number>;
}

interface BaselineResult {
  processes: number;
  concurrency: number;
  requests: number;
  failed: number;
  seconds: number;
  rate: number;
}

interface RoundResult {
  processes: number;
  concurrency: number;
  due: number;
  refreshed: number;
  seconds: number;
  rate: number;
  baselineRate: number;
  duplicates: number;
  missed: number;
  providerCalls: number;
  workerCalls: number[];
  versionsWrong: number;
  notActive: number;
  passes: number;
  meanPassSeconds: number;
  /** Share of the round during which at least one process was inside a scheduler pass. */
  passCoverage: number;
  cpuBusy: number;
  /** CPU seconds during the round: the machine, PostgreSQL, this process (provider + polling). */
  machineCpuSeconds: number;
  /** Time the hypervisor gave this machine's CPUs to someone else. */
  stealSeconds: number;
  postgresCpuSeconds: number;
  benchCpuSeconds: number;
  /** Everything else on the machine (other processes, kernel work not charged to a process). */
  otherCpuSeconds: number;
  workerCpuSeconds: number[];
  workerElu: number[];
  /** Database transactions per refresh: autocommit statements, plus NOTIFY deliveries to LISTENers. */
  transactionsPerRefresh: number;
  complete: boolean;
}

async function openDatabase(): Promise<string> {
  if (process.env.DATABASE_URL) {
    const server = new URL(process.env.DATABASE_URL);
    const name = `latchkey_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: server.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    cleanups.push(async () => {
      const c = new pg.Client({ connectionString: server.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    });
    server.pathname = `/${name}`;
    progress(`using a scratch database on the DATABASE_URL server`);
    return server.toString();
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-bench-'));
  await chmod(dir, 0o711);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  progress(`starting embedded PostgreSQL in ${dir}`);
  const embedded: EmbeddedDatabase = await startEmbeddedPostgres({
    dataDir: dir,
    port: await freePort(),
    database: 'latchkey_bench',
    logger: createLogger('warn'),
  });
  cleanups.push(() => embedded.stop());
  return embedded.url;
}

/** Offering and integration through the HTTP API of an in-process Latchkey, then N connections by SQL. */
async function buildWorld(databaseUrl: string): Promise<World> {
  const migrator = createDataSource(databaseUrl);
  await migrator.initialize();
  await migrate(migrator);
  await migrator.destroy();

  const provider = await SalesforceTestProvider.start();
  cleanups.push(() => provider.close());
  provider.setRecording(false);

  const port = await freePort();
  const env = {
    NODE_ENV: 'test',
    LATCHKEY_ENCRYPTION_KEYS: KEY_SPEC,
    LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true',
    LATCHKEY_SCHEDULER_ENABLED: 'false',
    LATCHKEY_BOOTSTRAP_CLIENT_ID: BOOTSTRAP.id,
    LATCHKEY_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP.secret,
    LOG_LEVEL: 'warn',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
  };
  const config = loadConfig(env);
  const keyRing = KeyRing.fromSpec(KEY_SPEC);
  const app = await createApp({
    config,
    databaseUrl,
    keyRing,
    logger: createLogger('warn'),
    clock: new SystemClock(),
    random: new RandomSource(),
    announce: () => undefined,
  });
  await app.listen(port, '127.0.0.1');
  const base = `http://127.0.0.1:${port}`;
  provider.registerApp({ ...SF_APP, callbackUrls: [`${base}/oauth/callback`] });
  let integrationId: string;
  try {
    const tokenRes = await fetch(`${base}/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: BOOTSTRAP.id,
        client_secret: BOOTSTRAP.secret,
      }),
    });
    const { access_token: admin } = (await tokenRes.json()) as { access_token: string };
    const post = async (route: string, body: unknown) => {
      const res = await fetch(`${base}${route}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      if (res.status !== 201)
        throw new Error(`POST ${route}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const offering = await post('/api/v1/offerings', {
      key: 'salesforce-bench',
      provider: 'salesforce',
      environment: 'test',
      displayName: 'Salesforce (bench)',
      authorizationUrl: `${provider.url}/services/oauth2/authorize`,
      tokenUrl: `${provider.url}/services/oauth2/token`,
      revocationUrl: `${provider.url}/services/oauth2/revoke`,
      tokenEndpointAuthMethod: 'client_secret_post',
      scopes: { required: ['api', 'refresh_token'], optional: ['web', 'openid', 'id'] },
      tokenResponseStyle: 'salesforce',
      defaultAccessTokenTtlSeconds: 7200,
      apiBaseUrl: '{{instance_url}}',
      allowedApiHosts: [new URL(provider.url).host],
    });
    const integration = await post('/api/v1/integrations', {
      name: 'Refresh benchmark',
      offeringId: offering.id,
      ...SF_APP,
      allowedRedirectUris: ['https://app.example.com/connected'],
    });
    if (integration.status !== 'configured')
      throw new Error(`integration not configured: ${JSON.stringify(integration)}`);
    integrationId = String(integration.id);
  } finally {
    await app.close();
  }

  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 3,
    application_name: 'latchkey-bench',
  });
  cleanups.push(() => pool.end());
  const [{ workspace_id: workspaceId }] = (
    await pool.query<{ workspace_id: string }>(
      'SELECT workspace_id FROM integrations WHERE id = $1',
      [integrationId],
    )
  ).rows;

  progress(
    `seeding ${fmt(SETTINGS.connections)} connections (encrypted credentials, refresh tokens known to the provider)`,
  );
  const n = SETTINGS.connections;
  const refreshTokens = provider.seedRefreshTokens(SF_APP.clientId, n, {
    scopes: ['api', 'refresh_token'],
  });
  const connectionIds = Array.from({ length: n }, () => randomUUID());
  const now = Date.now();
  const later = new Date(now + 24 * 3_600_000); // not due until a round makes them due
  const issuedAt = now - 3_600_000;
  const userId = '0055g00000ABCDEAA4';
  const orgId = '00D5g000004ABCDEA2';
  for (let from = 0; from < n; from += 1000) {
    const ids = connectionIds.slice(from, from + 1000);
    const encrypted = ids.map((id, i) =>
      keyRing.encrypt(
        JSON.stringify({
          accessToken: `${orgId}!AQseed${randomBytes(48).toString('base64url')}`,
          refreshToken: refreshTokens[from + i],
          tokenType: 'Bearer',
          issuedAt,
          raw: {
            instance_url: provider.url,
            id: `${provider.url}/id/${orgId}/${userId}`,
            issued_at: String(issuedAt),
            scope: 'api refresh_token',
            token_type: 'Bearer',
          },
        }),
        { table: 'connections', rowId: id, field: 'credentials' },
      ),
    );
    await pool.query(
      `INSERT INTO connections (id, workspace_id, integration_id, end_user_id, provider_user_id, provider_org_id, instance_url,
                                granted_scopes, status, credentials_enc, access_token_expires_at, next_refresh_at, credentials_version)
       SELECT u.id, $1, $2, 'bench-user-' || ($9::int + u.ord), $3, $4, $5, '{api,refresh_token}', 'active', u.enc, $6, $6, 1
         FROM unnest($7::uuid[], $8::text[]) WITH ORDINALITY AS u(id, enc, ord)`,
      [workspaceId, integrationId, userId, orgId, provider.url, later, ids, encrypted, from],
    );
  }
  await pool.query('VACUUM ANALYZE connections');
  const versions = new Map(connectionIds.map((id) => [id, 1]));
  return {
    databaseUrl,
    pool,
    provider,
    workspaceId,
    integrationId,
    connectionIds,
    refreshTokens,
    versions,
  };
}

async function runBaseline(
  world: World,
  processes: number,
  concurrency: number,
): Promise<BaselineResult> {
  const total = SETTINGS.baselineRequests;
  const tokens = world.provider.seedRefreshTokens(SF_APP.clientId, total, {
    scopes: ['api', 'refresh_token'],
  });
  const clients = Array.from({ length: processes }, () => spawnChild('baseline.js', {}));
  const per = Math.ceil(total / processes);
  await Promise.all(
    clients.map(({ child, output }, i) => {
      const ready = nextMessage<BaselineEvent>(child, output, 'ready', 30_000);
      const job: BaselineCommand = {
        type: 'job',
        tokenUrl: `${world.provider.url}/services/oauth2/token`,
        ...SF_APP,
        refreshTokens: tokens.slice(i * per, (i + 1) * per),
        concurrency,
      };
      child.send(job);
      return ready;
    }),
  );
  const t0 = performance.now();
  const done = clients.map(({ child, output }) =>
    nextMessage<Extract<BaselineEvent, { type: 'done' }>>(
      child,
      output,
      'done',
      SETTINGS.roundTimeoutSeconds * 1000,
    ),
  );
  for (const { child } of clients) child.send({ type: 'go' } satisfies BaselineCommand);
  const results = await Promise.all(done);
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(clients.map(({ child }) => waitExit(child, 5_000)));
  const ok = results.reduce((a, r) => a + r.ok, 0);
  const failed = results.reduce((a, r) => a + r.failed, 0);
  return { processes, concurrency, requests: ok + failed, failed, seconds, rate: ok / seconds };
}

async function runRound(
  world: World,
  scenario: Scenario,
  baselineRate: number,
): Promise<RoundResult> {
  const { pool, provider } = world;
  const { processes, concurrency } = scenario;
  const ids = world.connectionIds.slice(0, scenario.connections);
  const env = {
    NODE_ENV: 'test',
    DATABASE_URL: world.databaseUrl,
    LATCHKEY_ENCRYPTION_KEYS: KEY_SPEC,
    LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true',
    LATCHKEY_SCHEDULER_ENABLED: 'true',
    LATCHKEY_REFRESH_INTERVAL_SECONDS: String(SETTINGS.intervalSeconds),
    LATCHKEY_REFRESH_BATCH_SIZE: String(SETTINGS.batchSize),
    LATCHKEY_REFRESH_CONCURRENCY: String(concurrency),
    LATCHKEY_BOOTSTRAP_CLIENT_ID: BOOTSTRAP.id,
    LATCHKEY_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP.secret,
    LOG_LEVEL: 'warn',
    PORT: '0',
  };
  const workers = Array.from({ length: processes }, () => spawnChild('worker.js', env));
  await Promise.all(
    workers.map(({ child, output }) => nextMessage<WorkerEvent>(child, output, 'ready', 60_000)),
  );

  provider.refreshRequestsByToken.clear();
  const callsBefore = provider.refreshRequests;
  for (const { child } of workers) child.send({ type: 'start' } satisfies WorkerCommand);
  const xacts0 = await transactions(pool);
  const cpu0 = cpuTimes();
  const pg0 = postgresCpu();
  const own0 = process.cpuUsage();
  const before = new Date();
  // Everything due at once; from this commit on the clock runs.
  await pool.query(
    `UPDATE connections SET next_refresh_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  const t0 = Date.now();
  const limit = t0 + SETTINGS.roundTimeoutSeconds * 1000;
  let complete = false;
  let polls = 0;
  while (Date.now() < limit) {
    polls++;
    const [{ done }] = (
      await pool.query<{ done: number }>(
        'SELECT count(*)::int AS done FROM connections WHERE last_refreshed_at >= $1',
        [before],
      )
    ).rows;
    if (done >= ids.length) {
      complete = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const cpu1 = cpuTimes();
  const postgresCpuSeconds = postgresCpuSince(pg0);
  const own = process.cpuUsage(own0);
  const stopped = await Promise.all(
    workers.map(({ child, output }) => {
      const message = nextMessage<Extract<WorkerEvent, { type: 'stopped' }>>(
        child,
        output,
        'stopped',
        30_000,
      );
      child.send({ type: 'stop' } satisfies WorkerCommand);
      return message;
    }),
  );
  await Promise.all(workers.map(({ child }) => waitExit(child, 10_000)));
  // Transactions in the database during the round, less this runner's own (polls, the due UPDATE).
  const xacts = (await transactions(pool)) - xacts0 - polls - 2;

  // Every connection of the round refreshed exactly once (version + 1), every other one untouched.
  for (const id of ids) world.versions.set(id, world.versions.get(id)! + 1);
  const rows = (
    await pool.query<{
      id: string;
      credentials_version: number;
      status: string;
      last_refreshed_at: Date | null;
    }>(
      'SELECT id, credentials_version, status, last_refreshed_at FROM connections WHERE id = ANY($1::uuid[])',
      [world.connectionIds],
    )
  ).rows;
  let versionsWrong = 0;
  let notActive = 0;
  let refreshed = 0;
  let last = t0;
  for (const row of rows) {
    if (row.credentials_version !== world.versions.get(row.id)) versionsWrong++;
    if (row.status !== 'active') notActive++;
    const at = row.last_refreshed_at?.getTime() ?? 0;
    if (at >= before.getTime()) {
      refreshed++;
      last = Math.max(last, at);
    }
  }
  let duplicates = 0;
  let missed = 0;
  for (let i = 0; i < world.refreshTokens.length; i++) {
    const calls = provider.refreshRequestsByToken.get(world.refreshTokens[i]) ?? 0;
    if (i < ids.length && calls === 0) missed++;
    duplicates += i < ids.length ? Math.max(0, calls - 1) : calls;
  }
  const seconds = (last - t0) / 1000;
  const passes: PassRecord[] = stopped.flatMap((p) => p.passes);
  const busy = cpu1.busy - cpu0.busy;
  const steal = cpu1.steal - cpu0.steal;
  const workerCpuSeconds = stopped.map((p) => p.cpuSeconds);
  const benchCpuSeconds = (own.user + own.system) / 1e6;
  return {
    processes,
    concurrency,
    due: ids.length,
    refreshed,
    seconds,
    rate: refreshed / seconds,
    baselineRate,
    duplicates,
    missed,
    providerCalls: provider.refreshRequests - callsBefore,
    workerCalls: stopped.map((p) => p.providerCalls),
    versionsWrong,
    notActive,
    passes: passes.length,
    meanPassSeconds:
      passes.reduce((a, p) => a + (p.endedAt - p.startedAt), 0) / Math.max(1, passes.length) / 1000,
    passCoverage: coverage(passes, t0, last),
    cpuBusy: cpu1.total > cpu0.total ? busy / (cpu1.total - cpu0.total) : 0,
    machineCpuSeconds: busy / CLOCK_TICKS,
    stealSeconds: steal / CLOCK_TICKS,
    postgresCpuSeconds,
    benchCpuSeconds,
    otherCpuSeconds:
      busy / CLOCK_TICKS -
      postgresCpuSeconds -
      benchCpuSeconds -
      workerCpuSeconds.reduce((a, b) => a + b, 0),
    workerCpuSeconds,
    workerElu: stopped.map((p) => p.eventLoopUtilization),
    transactionsPerRefresh: xacts / Math.max(1, refreshed),
    complete,
  };
}

/** Committed + rolled-back transactions in this database so far (waits for the statistics to settle). */
async function transactions(pool: pg.Pool): Promise<number> {
  await pool.query('SELECT pg_stat_force_next_flush()').catch(() => undefined); // PostgreSQL 15+
  await new Promise((r) => setTimeout(r, 1100)); // other backends flush at most once a second
  const [{ n }] = (
    await pool.query<{ n: string }>(
      'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()',
    )
  ).rows;
  return Number(n);
}

/** Fraction of [from, to] covered by at least one pass. */
function coverage(passes: PassRecord[], from: number, to: number): number {
  const spans = passes
    .map((p) => [Math.max(from, p.startedAt), Math.min(to, p.endedAt)] as const)
    .filter(([a, b]) => b > a);
  spans.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let cursor = from;
  for (const [a, b] of spans) {
    if (b <= cursor) continue;
    covered += b - Math.max(a, cursor);
    cursor = b;
  }
  return to > from ? covered / (to - from) : 0;
}

async function machine(pool: pg.Pool): Promise<string[]> {
  const cpus = os.cpus();
  const [{ server_version: version }] = (
    await pool.query<{ server_version: string }>('SHOW server_version')
  ).rows;
  return [
    `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${fmt(os.totalmem() / 1024 ** 3)} GiB RAM, Linux ${os.release()}`,
    `Node ${process.version}, PostgreSQL ${version} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded, default settings'}), all on this machine, loopback only`,
  ];
}

function report(
  machineLines: string[],
  baselines: BaselineResult[],
  rounds: RoundResult[],
  skipped: Scenario[],
  selection: SelectionResult[],
  totalSeconds: number,
): string {
  const s = SETTINGS;
  const out: string[] = [];
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  out.push(
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${fmt(totalSeconds)} s in all.`,
  );
  out.push('');
  for (const line of machineLines) out.push(`- ${line}`);
  out.push(
    `- Provider: in-repo Salesforce test provider, ${s.latencyMs} ms token latency, no refresh-token rotation. ` +
      `Latchkey: LATCHKEY_REFRESH_INTERVAL_SECONDS=${s.intervalSeconds}, LATCHKEY_REFRESH_BATCH_SIZE=${s.batchSize}, ` +
      `LATCHKEY_REFRESH_CONCURRENCY as below, NODE_ENV=test, LOG_LEVEL=warn, 10 database connections per process (built in).`,
  );
  out.push('');
  out.push(
    '**Refresh throughput** — connections due at once; time from making them due to the last commit:',
  );
  out.push('');
  out.push(
    table(
      [
        'processes × concurrency',
        'due',
        'seconds',
        'refreshes/s',
        'baseline/s',
        'ratio',
        'duplicates',
        'provider calls (per process)',
        'passes (mean s)',
        'in a pass',
      ],
      rounds.map((r) => [
        `${r.processes} × ${r.concurrency}`,
        `${fmt(r.due)}${r.complete ? '' : ` (only ${fmt(r.refreshed)}: timed out)`}`,
        fmt(r.seconds, 1),
        fmt(r.rate),
        fmt(r.baselineRate),
        fmt(r.rate / r.baselineRate, 2),
        `${r.duplicates}${r.missed ? ` (${r.missed} missed)` : ''}`,
        `${fmt(r.providerCalls)} (${r.workerCalls.map((c) => fmt(c)).join(' + ')})`,
        `${r.passes} (${fmt(r.meanPassSeconds, 2)})`,
        `${fmt(r.passCoverage * 100)}%`,
      ]),
    ),
  );
  if (skipped.length) {
    out.push('');
    out.push(
      `Skipped to stay inside BENCH_DEADLINE_SECONDS=${s.deadlineSeconds}: ${skipped.map(label).join(', ')}.`,
    );
  }
  const ideal = [...new Set(rounds.map((r) => r.processes * r.concurrency))].map(
    (c) => `${c} in flight: ${fmt((c * 1000) / s.latencyMs)}/s`,
  );
  out.push('');
  out.push(
    `Baseline: ${fmt(s.baselineRequests)} refresh_token requests sent straight to the provider (no Latchkey) by as many processes, ` +
      `each with as many in flight (latency-bound ideal: ${ideal.join(', ')}). ` +
      `Duplicates: provider refresh calls beyond one per due connection's refresh token (must be 0). ` +
      `Every due connection's credentials_version moved by exactly one in its round and every other stayed put: ` +
      `${rounds.every((r) => r.versionsWrong === 0 && r.notActive === 0) ? 'yes' : 'NO'}. ` +
      `"in a pass": share of the round during which some process was inside a scheduler pass.`,
  );
  out.push('');
  out.push(
    "Where the CPU went during each round (CPU seconds; the machine has 2 × the round's seconds):",
  );
  out.push('');
  out.push(
    table(
      [
        'processes × concurrency',
        'machine busy',
        'Latchkey',
        'PostgreSQL',
        'provider + runner',
        'other',
        'stolen by the host',
        'Latchkey ms / refresh',
        'PostgreSQL ms / refresh',
        'DB transactions / refresh',
        'Latchkey event loop busy',
      ],
      rounds.map((r) => [
        `${r.processes} × ${r.concurrency}`,
        `${fmt(r.machineCpuSeconds, 1)} (${fmt(r.cpuBusy * 100)}%)`,
        r.workerCpuSeconds.map((c) => fmt(c, 1)).join(' + '),
        fmt(r.postgresCpuSeconds, 1),
        fmt(r.benchCpuSeconds, 1),
        fmt(Math.max(0, r.otherCpuSeconds), 1),
        fmt(r.stealSeconds, 1),
        fmt((sum(r.workerCpuSeconds) * 1000) / Math.max(1, r.refreshed), 1),
        fmt((r.postgresCpuSeconds * 1000) / Math.max(1, r.refreshed), 1),
        fmt(r.transactionsPerRefresh, 1),
        r.workerElu.map((e) => `${fmt(e * 100)}%`).join(' + '),
      ]),
    ),
  );
  out.push('');
  out.push(
    `**Batch selection** — the claim's inner \`SELECT … ORDER BY next_refresh_at LIMIT ${s.selectionBatch} FOR UPDATE SKIP LOCKED\`, ` +
      `median (p95) of up to ${s.selectionRuns} runs (at least 5, fewer when they add up to over 5 s), each in a transaction rolled back; ` +
      `10% of rows needs_reauth/revoked, 1% due, credentials as wide as real ones:`,
  );
  out.push('');
  out.push(
    table(
      [
        'stored',
        'due',
        'table + indexes',
        'with idx_connections_due',
        'rows read',
        'whole claim (UPDATE … RETURNING)',
        'without the index (baseline)',
        'rows read',
        'ratio',
      ],
      selection.map((r) => [
        fmt(r.stored),
        fmt(r.due),
        `${fmt(r.tableMb)} MB`,
        `${fmt(r.withIndex.medianMs, 2)} ms (${fmt(r.withIndex.p95Ms, 2)})`,
        fmt(r.withIndex.rowsRead),
        `${fmt(r.claimWithIndex.medianMs, 1)} ms (${fmt(r.claimWithIndex.p95Ms, 1)})`,
        `${fmt(r.withoutIndex.medianMs, 1)} ms (${fmt(r.withoutIndex.p95Ms, 1)}), ${r.withoutIndex.runs} runs`,
        fmt(r.withoutIndex.rowsRead),
        `${fmt(r.withoutIndex.medianMs / r.withIndex.medianMs)}× slower`,
      ]),
    ),
  );
  out.push('');
  for (const r of selection.slice(-1)) {
    out.push(
      `Plans: with the index \`${r.withIndex.plan}\`; without it \`${r.withoutIndex.plan}\`; the claim \`${r.claimWithIndex.plan}\`.`,
    );
  }
  return out.join('\n');
}

const DOC_START = '<!-- bench:refresh:results:start -->';
const DOC_END = '<!-- bench:refresh:results:end -->';

async function writeDocs(markdown: string): Promise<void> {
  const file = path.join(repoRoot, 'docs/benchmarks.md');
  const text = await readFile(file, 'utf8').catch(() => '');
  const a = text.indexOf(DOC_START);
  const b = text.indexOf(DOC_END);
  if (a < 0 || b < a) {
    progress(`--write-docs: ${file} has no ${DOC_START} … ${DOC_END} block; not written`);
    return;
  }
  await writeFile(file, `${text.slice(0, a + DOC_START.length)}\n${markdown}\n${text.slice(b)}`);
  progress(`--write-docs: results written to ${file}`);
}

async function main(): Promise<void> {
  progress(
    `settings: ${fmt(SETTINGS.connections)} connections, ${SETTINGS.latencyMs} ms latency, batch ${SETTINGS.batchSize}, ` +
      `scenarios ${SETTINGS.scenarios.map(label).join(' ')}, selection ${SETTINGS.selectionSizes.join('/')}`,
  );
  const databaseUrl = await openDatabase();
  const world = await buildWorld(databaseUrl);
  const machineLines = await machine(world.pool);
  world.provider.setLatency(SETTINGS.latencyMs);

  const baselines: BaselineResult[] = [];
  for (const { processes, concurrency } of SETTINGS.scenarios) {
    const known = baselines.find((b) => b.processes === processes && b.concurrency === concurrency);
    if (known) {
      baselines.push(known);
      continue;
    }
    progress(
      `baseline: ${fmt(SETTINGS.baselineRequests)} direct refresh requests, ${processes} process(es) × ${concurrency} in flight`,
    );
    const b = await runBaseline(world, processes, concurrency);
    if (b.failed) throw new Error(`baseline: ${b.failed} requests failed`);
    baselines.push(b);
    progress(`  → ${fmt(b.rate)}/s`);
  }

  const rounds: RoundResult[] = [];
  const skipped: Scenario[] = [];
  for (const [i, scenario] of SETTINGS.scenarios.entries()) {
    // Stay inside the deadline: keep time for the batch-selection part, skip what would not fit.
    const rate = rounds.length ? Math.min(...rounds.map((r) => r.rate)) : 100;
    const needed = scenario.connections / rate + 10 + SELECTION_RESERVE_SECONDS;
    if ((performance.now() - started) / 1000 + needed > SETTINGS.deadlineSeconds - 10) {
      progress(
        `refresh round ${i + 1} (${label(scenario)}): skipped, it would not fit in BENCH_DEADLINE_SECONDS`,
      );
      skipped.push(scenario);
      continue;
    }
    progress(
      `refresh round ${i + 1}: ${scenario.processes} Latchkey process(es), concurrency ${scenario.concurrency}, ${fmt(scenario.connections)} due`,
    );
    const r = await runRound(world, scenario, baselines[i].rate);
    rounds.push(r);
    progress(
      `  → ${fmt(r.refreshed)} in ${fmt(r.seconds, 1)} s = ${fmt(r.rate)}/s (${fmt(r.rate / r.baselineRate, 2)} of baseline), ` +
        `duplicates ${r.duplicates}, missed ${r.missed}`,
    );
    if (!r.complete) {
      progress('  round timed out: stopping the throughput part here');
      break;
    }
  }

  // The selection table's rows are as wide as this run's real encrypted credentials.
  const [{ width }] = (
    await world.pool.query<{ width: number | null }>(
      'SELECT avg(length(credentials_enc))::int AS width FROM connections',
    )
  ).rows;
  const selection = await benchmarkSelection({
    databaseUrl,
    workspaceId: world.workspaceId,
    integrationId: world.integrationId,
    sizes: SETTINGS.selectionSizes,
    runs: SETTINGS.selectionRuns,
    batchSize: SETTINGS.selectionBatch,
    rowBytes: SETTINGS.selectionRowBytes || width || 700,
    progress,
  });

  const markdown = report(
    machineLines,
    baselines,
    rounds,
    skipped,
    selection,
    (performance.now() - started) / 1000,
  );
  process.stdout.write(`\n${markdown}\n`);
  if (WRITE_DOCS) await writeDocs(markdown);
  const failed = rounds.some(
    (r) => r.duplicates > 0 || r.missed > 0 || r.versionsWrong > 0 || !r.complete,
  );
  if (failed) {
    progress('FAILED: duplicate, missed or incomplete refreshes (see the table)');
    process.exitCode = 1;
  }
}

main()
  .catch((error: unknown) => {
    progress(
      `benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 1;
  })
  .finally(async () => {
    clearTimeout(deadline);
    await cleanup();
    progress('done');
    // Nothing of ours should be left; do not wait for stray handles (keep-alive sockets).
    process.exit();
  });
