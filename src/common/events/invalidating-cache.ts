import type { ChangeFeed, ChangeKind } from './change-feed.js';

interface Entry<V> {
  value: V;
  epoch: number;
}

/**
 * A per-process cache that forgets an entry when the change feed announces a change to it, and
 * serves nothing while the feed is down (fail closed: every lookup goes to the loader). When the
 * feed goes down, including when its heartbeat stops coming back, the cache is emptied: changes
 * may have been missed, so nothing from before comes back once the feed is up again.
 */
export class InvalidatingCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly inflight = new Map<string, Promise<V>>();

  constructor(
    private readonly feed: ChangeFeed,
    kind: ChangeKind,
    private readonly maxEntries = 50_000,
    /** Other changes that must also evict: given a change id, which keys to drop. */
    related: Array<{
      kind: ChangeKind;
      keys: (id: string, entries: ReadonlyMap<string, V>) => string[];
    }> = [],
  ) {
    feed.onDown(() => this.clear());
    feed.subscribe((change) => {
      if (change.kind === kind) {
        if (change.id === '*') this.clear();
        else this.delete(change.id);
      }
      for (const r of related) {
        if (r.kind !== change.kind) continue;
        const values = new Map([...this.entries].map(([k, e]) => [k, e.value]));
        for (const key of r.keys(change.id, values)) this.delete(key);
      }
    });
  }

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && this.feed.healthy && hit.epoch === this.feed.epoch) return hit.value;
    const running = this.inflight.get(key);
    if (running) return running;
    const epoch = this.feed.epoch;
    const promise = load()
      .then((value) => {
        // Only keep what was loaded under a healthy, unchanged feed and not invalidated meanwhile.
        if (this.feed.healthy && this.feed.epoch === epoch && this.inflight.get(key) === promise) {
          if (this.entries.size >= this.maxEntries)
            this.entries.delete(this.entries.keys().next().value!);
          this.entries.set(key, { value, epoch });
        }
        return value;
      })
      .finally(() => {
        if (this.inflight.get(key) === promise) this.inflight.delete(key);
      });
    this.inflight.set(key, promise);
    return promise;
  }

  /** Peek without loading (hot path). */
  peek(key: string): V | undefined {
    const hit = this.entries.get(key);
    return hit && this.feed.healthy && hit.epoch === this.feed.epoch ? hit.value : undefined;
  }

  set(key: string, value: V): void {
    if (this.feed.healthy) this.entries.set(key, { value, epoch: this.feed.epoch });
  }

  clear(): void {
    this.entries.clear();
    this.inflight.clear();
  }

  delete(key: string): void {
    this.entries.delete(key);
    this.inflight.delete(key); // a load racing the change must not be cached
  }
}
