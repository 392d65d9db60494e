import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import { describe, expect, it } from 'vitest';
import { assertReachableByPostgresUser, loadEmbeddedPostgres } from './embedded-postgres.js';

describe(loadEmbeddedPostgres.name, () => {
  it('leaves no process hooks behind that could exit the process or change its exit code', async () => {
    const events = ['beforeExit', 'exit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'message'] as const;
    const before = Object.fromEntries(events.map((e) => [e, process.listenerCount(e)]));
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    expect(typeof EmbeddedPostgres).toBe('function');
    expect(exitHook.hookedEvents()).toEqual([]);
    for (const e of events) expect(process.listenerCount(e), e).toBeLessThanOrEqual(before[e]);
  });
});

const hasPostgresUser = (() => {
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

// Only as root with a `postgres` system user is there anything to check (else PostgreSQL runs as us).
describe.runIf(userInfo().uid === 0 && hasPostgresUser)(assertReachableByPostgresUser.name, () => {
  it('names the private directory that hides the PostgreSQL programs from the postgres user', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'latchkey-private-'));
    try {
      const binaries = path.join(home, 'clone', 'node_modules', 'pg', 'bin');
      await mkdir(binaries, { recursive: true, mode: 0o755 });
      // mkdtemp makes the directory 0700, like /root.
      await expect(assertReachableByPostgresUser(binaries, 'binaries')).rejects.toThrow(
        new RegExp(`cannot enter ${home} \\(mode 700\\).*DATABASE_URL.*chmod o\\+x ${home}`),
      );
      execFileSync('chmod', ['o+x', home]);
      await expect(assertReachableByPostgresUser(binaries, 'binaries')).resolves.toBeUndefined();
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
