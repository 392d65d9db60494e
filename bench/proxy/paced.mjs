// An open-loop load at an even pace, for latency at a fixed rate. Request i is due at
// start + i / rate whether or not earlier ones have answered, and its latency counts from when it
// was due, so a stall shows in every request it delays. (autocannon's fixed rate is a quota per
// connection per second, which each connection spends back to back at the top of the second: at
// "half load" the server meets its peak load for half of every second, and the p99 it reports is
// that of a queue of all the connections.) Requests go through an undici pool, latencies into an
// HDR histogram (hdr-histogram-js, autocannon's own) at microsecond resolution.
import { performance } from 'node:perf_hooks';
import hdr from 'hdr-histogram-js';
import { Pool } from 'undici';

/**
 * Sends `rate` GET requests per second to `url` for `warmupSeconds` (not recorded; opens the
 * pool's connections) and then `seconds`. Resolves with latency percentiles in milliseconds.
 * @param {{ url: string, headers?: Record<string, string>, rate: number, seconds: number, warmupSeconds?: number, connections?: number }} options
 */
export async function paced({
  url,
  headers = {},
  rate,
  seconds,
  warmupSeconds = 1,
  connections = 32,
}) {
  const target = new URL(url);
  // A request that hangs fails after 30 s (counted as an error) instead of stalling the run.
  const pool = new Pool(target.origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  try {
    const warmup = await run(
      pool,
      target.pathname + target.search,
      headers,
      rate,
      warmupSeconds,
      null,
    );
    const histogram = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    const { requests, errors, elapsed } = await run(
      pool,
      target.pathname + target.search,
      headers,
      rate,
      seconds,
      histogram,
    );
    const ms = (percentile) => histogram.getValueAtPercentile(percentile) / 1000;
    const result = {
      requests,
      warmupRequests: warmup.requests,
      errors: errors + warmup.errors,
      rps: requests / elapsed,
      p50: ms(50),
      p90: ms(90),
      p99: ms(99),
      p999: ms(99.9),
      max: histogram.maxValue / 1000,
    };
    histogram.destroy();
    return result;
  } finally {
    await pool.close();
  }
}

function run(pool, path, headers, rate, seconds, histogram) {
  const total = Math.max(1, Math.round(rate * seconds));
  const start = performance.now();
  let sent = 0;
  let done = 0;
  let errors = 0;
  return new Promise((resolve) => {
    const finished = () => {
      if (++done === total)
        resolve({ requests: total, errors, elapsed: (performance.now() - start) / 1000 });
    };
    const send = (due) => {
      pool.request({ path, method: 'GET', headers }).then(
        async (res) => {
          await res.body.dump();
          if (res.statusCode !== 200) errors++;
          histogram?.recordValue(Math.max(1, Math.round((performance.now() - due) * 1000)));
          finished();
        },
        () => {
          errors++;
          finished();
        },
      );
    };
    // Timers fire at most once a millisecond: each tick sends every request that has come due.
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      while (sent < due) send(start + (sent++ * 1000) / rate);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}
