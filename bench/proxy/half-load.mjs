// Latency and CPU per call at half of the bare pass-through's peak, two ways:
// - autocannon's fixed rate, three alternating rounds of (b), (b2), (b3), (c) (and the baseline
//   (c0) with BENCH_BASELINE), with the CPU time each serving process spent per request. That rate
//   is a quota per connection per second, spent back to back at the top of each second, so its
//   p99 is that of a queue of all the connections;
// - the same rate evenly paced (paced.mjs), three alternating rounds of (b), (b3), (c) (and (c0)),
//   for the p99 the target is about, with Latchkey's own event-loop delay in each of its rounds.
// Each figure is the median of its rounds, so one unlucky round on shared cores decides nothing.
import { f, f2, load, medianOf, pairedRatio, rotated, withCpu } from './measure.mjs';
import { paced } from './paced.mjs';

const ROUNDS = 3;

export async function halfLoad(
  { target, auth, pids, publicUrl, baseline },
  { rate, duration, connections },
) {
  console.log(`fixed rate: ${rate} req/s (half of the bare pass-through's peak)`);
  // CPU time the serving process spends per request at the same fixed rate (utime + stime).
  const quotaRound = (name) =>
    withCpu(pids[name], async () => {
      const r = await load(target[name], auth, { connections, duration, overallRate: rate });
      return { ...r, requests: r.rps * duration };
    });
  const quota = { b: [], b2: [], b3: [], c: [], ...(baseline ? { c0: [] } : {}) };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of rotated(Object.keys(quota), round)) quota[name].push(await quotaRound(name));
  }
  const half = Object.fromEntries(
    Object.entries(quota).map(([name, runs]) => [name, medianOf(runs)]),
  );
  half.p99Rounds = Object.fromEntries(
    Object.entries(quota)
      .filter(([name]) => name !== 'b2')
      .map(([name, runs]) => [name, runs.map((r) => r.p99)]),
  );
  const cpuCoverB = pairedRatio(quota.c, quota.b, (r) => r.cpuMicrosPerRequest);

  // For (c), Latchkey's event-loop delay over each round, from its /metrics (each scrape starts a
  // new measurement): how much of its latency is its own stalls.
  const loopLag = async () => {
    const text = await (await fetch(`${publicUrl}/metrics`)).text();
    const value = (name) =>
      Number(
        new RegExp(`^latchkey_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1],
      ) * 1000;
    return { p99: value('p99'), max: value('max') };
  };
  const evenRounds = { b: [], b3: [], c: [], ...(baseline ? { c0: [] } : {}) };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of rotated(Object.keys(evenRounds), round)) {
      if (name === 'c') await loopLag();
      const r = await withCpu(pids[name], async () => {
        const run = await paced({
          url: target[name],
          headers: auth,
          rate,
          seconds: duration,
          connections,
        });
        if (run.errors) throw new Error(`${name}: ${run.errors} failed requests at an even pace`);
        // The warm-up second is inside the CPU window too: per request over both.
        return { ...run, requests: run.requests + run.warmupRequests };
      });
      const lag = name === 'c' ? await loopLag() : {};
      evenRounds[name].push({
        ...r,
        ...(name === 'c' ? { loopLagP99: lag.p99, loopLagMax: lag.max } : {}),
      });
    }
  }
  const even = Object.fromEntries(
    Object.entries(evenRounds).map(([name, runs]) => [name, medianOf(runs)]),
  );
  even.rounds = Object.fromEntries(
    Object.entries(evenRounds).map(([k, rs]) => [
      k,
      rs.map((r) => ({
        p50: r.p50,
        p99: r.p99,
        p999: r.p999,
        max: r.max,
        ...(k === 'c' ? { loopLagP99: r.loopLagP99, loopLagMax: r.loopLagMax } : {}),
      })),
    ]),
  );

  const result = {
    rate,
    quota: {
      ...half,
      addedP99ms: half.c.p99 - half.b.p99,
      addedP99msOverB3: half.c.p99 - half.b3.p99,
    },
    evenPace: {
      ...even,
      addedP99ms: even.c.p99 - even.b.p99,
      addedP99msOverB3: even.c.p99 - even.b3.p99,
    },
    cpuCoverB,
  };
  console.log(
    `at ${rate} req/s, autocannon's per-second quota (median of ${ROUNDS} rounds): p99 b ${f(half.b.p99)} ms, b3 ${f(half.b3.p99)} ms, c ${f(half.c.p99)} ms, ` +
      `added over b ${f(result.quota.addedP99ms)} ms, over b3 ${f(result.quota.addedP99msOverB3)} ms; rounds b ${half.p99Rounds.b.join('/')}, b3 ${half.p99Rounds.b3.join('/')}, c ${half.p99Rounds.c.join('/')} ms`,
  );
  console.log(
    `at ${rate} req/s evenly paced (median of ${ROUNDS} rounds): p50 b ${f2(even.b.p50)}, b3 ${f2(even.b3.p50)}, c ${f2(even.c.p50)} ms; ` +
      `p99 b ${f2(even.b.p99)}, b3 ${f2(even.b3.p99)}, c ${f2(even.c.p99)} ms, added over b ${f2(result.evenPace.addedP99ms)} ms, over b3 ${f2(result.evenPace.addedP99msOverB3)} ms; ` +
      `rounds p99 b ${even.rounds.b.map((r) => f2(r.p99)).join('/')}, b3 ${even.rounds.b3.map((r) => f2(r.p99)).join('/')}, c ${even.rounds.c.map((r) => f2(r.p99)).join('/')} ms; ` +
      `Latchkey's event-loop delay in its rounds: p99 ${even.rounds.c.map((r) => f2(r.loopLagP99)).join('/')} ms, max ${even.rounds.c.map((r) => f2(r.loopLagMax)).join('/')} ms; ` +
      `main thread ${f(even.b.mainThreadMicrosPerRequest)} / ${f(even.b3.mainThreadMicrosPerRequest)} / ${f(even.c.mainThreadMicrosPerRequest)} µs per request (b / b3 / c)`,
  );
  console.log(
    `CPU per request at that rate: bare ${f(half.b.cpuMicrosPerRequest)} µs (main thread ${f(half.b.mainThreadMicrosPerRequest)}), ` +
      `bare with pipeline ${f(half.b2.cpuMicrosPerRequest)} µs (main thread ${f(half.b2.mainThreadMicrosPerRequest)}), ` +
      `bare with dispatch ${f(half.b3.cpuMicrosPerRequest)} µs (main thread ${f(half.b3.mainThreadMicrosPerRequest)}), ` +
      `Latchkey ${f(half.c.cpuMicrosPerRequest)} µs (main thread ${f(half.c.mainThreadMicrosPerRequest)}); ` +
      `c/b ${f2(cpuCoverB.median)} (median of ${ROUNDS} paired rounds: ${cpuCoverB.rounds.map(f2).join(' / ')})`,
  );
  if (baseline) {
    console.log(
      `baseline c0 (${baseline.main}) at ${rate} req/s: quota p99 ${f(half.c0.p99)} ms (rounds ${half.p99Rounds.c0.join('/')}) against c ${f(half.c.p99)}; ` +
        `evenly paced p99 ${f2(even.c0.p99)} ms (rounds ${even.rounds.c0.map((r) => f2(r.p99)).join('/')}) against c ${f2(even.c.p99)}; ` +
        `CPU per request ${f(half.c0.cpuMicrosPerRequest)} µs against c ${f(half.c.cpuMicrosPerRequest)}`,
    );
  }
  return result;
}
