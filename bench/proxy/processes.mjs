// Starting and stopping the benchmark's processes: the small servers in bench/proxy (forked) and
// Latchkey itself (spawned as `npm start` runs it). Every process started here is stopped by
// stopAll(), whatever happens to the run.
import { fork, spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const children = [];
const cleanup = [];

/** Runs `fn` after every child process has been stopped (e.g. to stop the database). */
export const atExit = (fn) => cleanup.push(fn);

/**
 * Forks bench/proxy/`file`, which reports its port with process.send({ port }). `wrap` runs it
 * under another program (valgrind, taskset): `[program, ...its arguments]`.
 */
export function forkServer(file, env = {}, execArgv = [], wrap = []) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(ROOT, 'bench/proxy', file), {
      env: { ...process.env, ...env },
      stdio: 'inherit',
      ...(wrap.length
        ? { execPath: wrap[0], execArgv: [...wrap.slice(1), process.execPath, ...execArgv] }
        : { execArgv }),
    });
    children.push(child);
    child.once('message', (m) => resolve({ child, port: m.port }));
    child.once('exit', (code) => reject(new Error(`${file} exited ${code}`)));
  });
}

export const freePort = () =>
  new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export async function waitFor(url, ms) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Spawns a Latchkey (`main`: a dist/src/main.js) on `port` with node flags `flags`, under `wrap`
 * if given, and waits until it is ready. `env` is its whole environment besides PATH and PORT.
 */
export async function startLatchkey({ main, port, flags, env, wrap = [] }) {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    wrap[0] ?? process.execPath,
    [...wrap.slice(1), ...(wrap.length ? [process.execPath] : []), ...flags, main],
    {
      env: { PATH: process.env.PATH, PORT: String(port), ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  children.push(child);
  // Under valgrind start-up takes minutes.
  await waitFor(`${url}/readyz`, wrap.length ? 900_000 : 30_000);
  return { child, publicUrl: url };
}

export async function stopAll() {
  for (const child of children) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const fn of cleanup) await fn().catch(() => undefined);
}
