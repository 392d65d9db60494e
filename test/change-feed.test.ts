import type { Socket } from 'node:net';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Change, ChangeFeed } from '../src/common/events/change-feed.js';
import { InvalidatingCache } from '../src/common/events/invalidating-cache.js';
import { createLogger } from '../src/common/logging/logger.js';
import { RandomSource } from '../src/common/random.js';
import { createDataSource } from '../src/database/data-source.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

/** One replica's feed on its own pool, as two Latchkey processes on one database have. */
interface Replica {
  feed: ChangeFeed;
  dataSource: DataSource;
  seen: Change[];
  logs: string[];
  /** Stops (or resumes) reading the listening connection's socket: a replica that is slow to hear. */
  deafen(deaf: boolean): void;
}

describe(ChangeFeed.name, () => {
  let db: TestDatabase;
  const replicas: Replica[] = [];

  /** `heartbeatMs`: how often the feed checks its own connection (long by default: no check during a test). */
  async function replica({ heartbeatMs = 60_000 } = {}): Promise<Replica> {
    const dataSource = createDataSource(db.url);
    await dataSource.initialize();
    const logs: string[] = [];
    const logger = createLogger('info', { write: (l: string) => void logs.push(l) });
    const feed = new ChangeFeed(dataSource, new RandomSource(), logger, {
      changeFeedHeartbeatMs: heartbeatMs,
    });
    await feed.onModuleInit();
    const seen: Change[] = [];
    feed.subscribe((c) => seen.push(c));
    // The listening client is private; its socket is reached only to make it slow on purpose.
    const socket = (feed as unknown as { client: pg.Client & { connection: { stream: Socket } } })
      .client.connection.stream;
    const r = {
      feed,
      dataSource,
      seen,
      logs,
      deafen: (deaf: boolean) => (deaf ? socket.pause() : socket.resume()),
    };
    replicas.push(r);
    return r;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterEach(async () => {
    for (const r of replicas.splice(0)) {
      r.deafen(false);
      await r.feed.onApplicationShutdown();
      await r.dataSource.destroy();
    }
  });

  afterAll(async () => {
    await db?.drop();
  });

  describe('publish', () => {
    it('answers only once another replica, slow to hear it, has dropped the change', async () => {
      const [a, b] = [await replica(), await replica()];
      b.deafen(true);
      const resumed = new Promise<number>((resolve) =>
        setTimeout(() => {
          b.deafen(false);
          resolve(Date.now());
        }, 300),
      );
      await a.feed.publish({ kind: 'connection', id: 'c1' });
      const answeredAt = Date.now();
      expect(b.seen).toEqual([{ kind: 'connection', id: 'c1' }]);
      expect(answeredAt).toBeGreaterThanOrEqual(await resumed);
      expect(a.logs.join('')).not.toContain('not confirmed');
    });

    it('stops waiting after a second for a replica that never confirms, and says so', async () => {
      const [a, b] = [await replica(), await replica()];
      b.deafen(true);
      const started = Date.now();
      await a.feed.publish({ kind: 'offering', id: 'o1' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(b.seen).toEqual([]);
      const warning = a.logs
        .map((l) => JSON.parse(l) as { msg: string; missing?: number })
        .find((l) => l.msg.includes('not confirmed'));
      expect(warning?.missing).toBe(1);
      b.deafen(false);
      await expect.poll(() => b.seen).toEqual([{ kind: 'offering', id: 'o1' }]);
    });

    it('waits for a replica that missed a confirmation only once it answers again', async () => {
      const [a, b] = [await replica(), await replica()];
      b.deafen(true);
      await a.feed.publish({ kind: 'app', id: 'first' }); // a second, unconfirmed
      let started = Date.now();
      await a.feed.publish({ kind: 'app', id: 'second' });
      expect(Date.now() - started).toBeLessThan(500); // not waited for again
      b.deafen(false);
      await expect.poll(() => b.seen.map((c) => c.id)).toEqual(['first', 'second']);
      // Its late confirmations count as answering: the next change waits for it again.
      await new Promise((r) => setTimeout(r, 100));
      b.deafen(true);
      setTimeout(() => b.deafen(false), 300);
      started = Date.now();
      await a.feed.publish({ kind: 'app', id: 'third' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(b.seen.map((c) => c.id)).toEqual(['first', 'second', 'third']);
    });

    it('waits for no other replica when asked not to confirm', async () => {
      const [a, b] = [await replica(), await replica()];
      b.deafen(true);
      const started = Date.now();
      await a.feed.publish({ kind: 'connection', id: 'c2' }, { confirm: false });
      expect(Date.now() - started).toBeLessThan(900);
      expect(a.seen[0]).toEqual({ kind: 'connection', id: 'c2' }); // this replica forgot at once
      expect(b.seen).toEqual([]);
      b.deafen(false);
      await expect.poll(() => b.seen).toEqual([{ kind: 'connection', id: 'c2' }]);
    });

    it('delivers a change published in a transaction only when it commits', async () => {
      const [a, b] = [await replica(), await replica()];
      await a.dataSource.transaction(async (manager) => {
        await a.feed.publish({ kind: 'integration', id: 'i1' }, { manager });
        await new Promise((r) => setTimeout(r, 100));
        expect(b.seen).toEqual([]);
      });
      await expect.poll(() => b.seen).toEqual([{ kind: 'integration', id: 'i1' }]);
    });
  });

  describe('heartbeat', () => {
    it('goes down within two heartbeats when its connection goes silent without an error, then reconnects', async () => {
      const a = await replica({ heartbeatMs: 100 });
      expect(a.feed.healthy).toBe(true);
      a.deafen(true); // no 'error' or 'end': the socket just stops delivering, as after a silent network drop
      const deafAt = Date.now();
      await expect.poll(() => a.feed.healthy, { timeout: 2_000, interval: 10 }).toBe(false);
      expect(Date.now() - deafAt).toBeLessThan(1_000); // two missed echoes at 100 ms, plus scheduling slack
      expect(a.logs.join('')).toContain('heartbeat');
      // A new connection (after a second), not the deaf one: up once its own heartbeat has come back.
      await expect.poll(() => a.feed.healthy, { timeout: 3_000, interval: 10 }).toBe(true);
      const b = await replica();
      await b.feed.publish({ kind: 'connection', id: 'after-reconnect' });
      expect(a.seen).toContainEqual({ kind: 'connection', id: 'after-reconnect' });
    });

    it('clears every cache when it goes down and serves from none until it is back', async () => {
      const a = await replica({ heartbeatMs: 100 });
      const cache = new InvalidatingCache<string>(a.feed, 'app');
      let loads = 0;
      const load = () => Promise.resolve(`v${++loads}`);
      expect([await cache.get('k', load), await cache.get('k', load)]).toEqual(['v1', 'v1']);
      a.deafen(true);
      await expect.poll(() => a.feed.healthy, { timeout: 2_000, interval: 10 }).toBe(false);
      expect(cache.peek('k')).toBeUndefined();
      expect([await cache.get('k', load), await cache.get('k', load)]).toEqual(['v2', 'v3']); // every lookup loads
      await expect.poll(() => a.feed.healthy, { timeout: 3_000, interval: 10 }).toBe(true);
      expect(cache.peek('k')).toBeUndefined(); // nothing from before the drop comes back
      expect([await cache.get('k', load), await cache.get('k', load)]).toEqual(['v4', 'v4']);
    });
  });
});
