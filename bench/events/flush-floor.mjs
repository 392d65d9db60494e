// The least a durable write costs on this machine: an 8 kB write and fdatasync of a file beside
// PostgreSQL's data, which is what a commit's WAL flush does (wal_sync_method=fdatasync), paced as
// the paced handouts are, so that it meets the same idle wake-ups. A handout that waits for its
// audit record's commit waits for at least this.
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from '../proxy/measure.mjs';

/** Latency percentiles in ms of `rate` paced flushes per second for `seconds`, in `dir`. */
export async function flushFloor(dir, rate, seconds) {
  const file = path.join(dir, 'bench-flush-floor.bin');
  const handle = await open(file, 'w');
  const page = Buffer.alloc(8192, 1);
  const times = [];
  try {
    const start = performance.now();
    for (let i = 0; i < rate * seconds; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const t0 = performance.now();
      await handle.write(page, 0, page.length, (i % 16) * page.length);
      await handle.datasync();
      times.push(performance.now() - t0);
    }
  } finally {
    await handle.close();
    await rm(file, { force: true });
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}
