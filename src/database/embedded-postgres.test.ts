import exitHook from 'async-exit-hook';
import { describe, expect, it } from 'vitest';
import { loadEmbeddedPostgres } from './embedded-postgres.js';

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
