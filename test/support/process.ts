// The built app as real processes: `npm start`'s server (spawned, watched, stopped) and one-shot
// commands such as the CLI. Needs a built dist/: `npm test` builds it in its pretest step; when
// running a file alone, run `npm run build` first. A missing dist fails the run rather than
// skipping it (see `assertBuilt`).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestContext } from 'vitest';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The arguments `npm start` gives node (its node flags and the entry point), run from the repository. */
export const START_ARGS = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  }
).scripts.start
  .split(/\s+/)
  .slice(1);
/** What Latchkey prints once it serves requests; the match's group is its URL. */
export const RUNNING = /Latchkey is running at (\S+)/;

/** Throws, naming the fix, when `relativePath` (e.g. `dist/src/main.js`) has not been built. */
export function assertBuilt(relativePath: string): void {
  if (!existsSync(path.join(REPO_ROOT, relativePath))) {
    throw new Error(
      `${relativePath} is missing: run \`npm run build\` first (npm test builds it in pretest).`,
    );
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running (or exited) `npm start` process and everything it has printed so far. */
export interface LatchkeyProcess {
  child: ChildProcess;
  dataDir: string;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines (pino writes them to stdout). */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the match; rejects (with the output so far) on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves when the process has exited and its output is complete. */
  exited(timeoutMs?: number): Promise<Exit>;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dataDirs: string[] = [];

/**
 * A data dir the `postgres` system user can traverse (the embedded server runs as it under root).
 * `removeDataDirs` deletes every one made so far.
 */
export async function makeDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-start-'));
  await chmod(dir, 0o711);
  dataDirs.push(dir);
  return dir;
}

export async function removeDataDirs(): Promise<void> {
  await Promise.all(dataDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/**
 * Starts Latchkey as `npm start` does, with only the given variables (plus PATH and HOME): nothing
 * leaks in from the test run. The test's own finish hook stops it even when the test fails
 * (concurrent tests included).
 */
export function startLatchkey(
  test: Pick<TestContext, 'onTestFinished'>,
  env: Record<string, string>,
): LatchkeyProcess {
  if (!env.LATCHKEY_DATA_DIR)
    throw new Error('always give LATCHKEY_DATA_DIR (or it writes into the repository)');
  const child = spawn(process.execPath, START_ARGS, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  let closed: Exit | undefined;
  const closing = new Promise<Exit>((resolve) => {
    child.once('error', (error) => {
      err += `\n[spawn error] ${error.message}`;
      resolve((closed = { code: null, signal: null }));
    });
    child.once('close', (code, signal) => resolve((closed = { code, signal })));
  });
  const describeOutput = () => `\n--- stdout ---\n${out}\n--- stderr ---\n${err}`;

  const proc: LatchkeyProcess = {
    child,
    dataDir: env.LATCHKEY_DATA_DIR,
    stdout: () => out,
    stderr: () => err,
    // Complete lines only: the last one may still be arriving.
    logs: () =>
      out
        .split('\n')
        .slice(0, -1)
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    async waitFor(pattern, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(out);
        if (match) return match;
        if (closed)
          throw new Error(
            `Latchkey exited (${JSON.stringify(closed)}) before printing ${pattern}${describeOutput()}`,
          );
        if (Date.now() > deadline)
          throw new Error(`No ${pattern} within ${timeoutMs} ms${describeOutput()}`);
        await delay(50);
      }
    },
    async exited(timeoutMs = 15_000) {
      const result = await Promise.race([closing, delay(timeoutMs).then(() => undefined)]);
      if (!result)
        throw new Error(`Latchkey did not exit within ${timeoutMs} ms${describeOutput()}`);
      return result;
    },
  };
  test.onTestFinished(() => forceStop(proc), 40_000);
  return proc;
}

/**
 * Cleanup, also after a failed test: ask politely, then kill. A SIGKILLed Latchkey leaves its
 * embedded PostgreSQL running, so stop that too from its pid file.
 */
async function forceStop(proc: LatchkeyProcess): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) {
    proc.child.kill('SIGTERM');
    await proc.exited(15_000).catch(() => {
      proc.child.kill('SIGKILL');
      return proc.exited(5_000).catch(() => undefined);
    });
  }
  const pidFile = path.join(proc.dataDir, 'pg', 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGINT'); // PostgreSQL's "fast" shutdown
  for (let i = 0; i < 100 && alive(); i++) await delay(100);
  if (alive()) process.kill(pid, 'SIGKILL');
}

const run = promisify(execFile);

/** Runs a built script (e.g. `dist/src/cli.js`) to its end with only `env`; never throws on a failing exit. */
export async function runBuilt(
  relativePath: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [path.join(REPO_ROOT, relativePath), ...args],
      { env },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
