// Modes for work on the proxy itself, each instead of the report (BENCH_DIAG before it):
// - BENCH_HOLD: print the processes and URLs and keep serving until Ctrl-C, for tracing by hand;
// - BENCH_INSTRUCTIONS=N: instructions per request of (b), (b3) and (c) under callgrind;
// - BENCH_PROFILE=<dir>: CPU profiles of (b) and (c) under the same fixed load;
// - BENCH_RATE=R: CPU per request of (b), (b2), (b3) and (c) side by side at one fixed rate;
// - BENCH_DIAG: /healthz and a guarded API route at peak, beside the proxy, for comparison.
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import autocannon from 'autocannon';
import { cannon, median, withCpu } from './measure.mjs';

export async function hold({ target, auth, pids }) {
  console.log(JSON.stringify({ pids, target, authorization: auth.authorization }));
  await new Promise((resolve) => process.once('SIGINT', resolve));
}

/**
 * Per process: warm up (JIT tiers), switch instrumentation on, zero the counters, serve
 * `requests` requests, dump. The main thread's total is the figure (the others are GC and
 * compiler helpers, which valgrind runs one at a time). Done twice, to show how steady it is.
 * Unlike CPU time, an instruction count hardly moves with the machine's load.
 */
export async function instructions(
  { target, auth, pids, baseline },
  { requests, pacedRate, connections, callgrindDir },
) {
  const cg = (...args) => execFileSync('callgrind_control', args, { stdio: 'ignore' });
  // With pacedRate, the counted requests come at that rate instead of as fast as the process can
  // go: one request per event-loop turn, so per-turn costs are not shared between requests.
  const serve = async (name, amount, counted = false) => {
    const pace =
      counted && pacedRate ? { connections, overallRate: pacedRate } : { connections: 8 };
    await cannon(name, { url: target[name], headers: auth, ...pace, amount, timeout: 120 });
  };
  const names = baseline ? ['b', 'b3', 'c', 'c0'] : ['b', 'b3', 'c'];
  const counts = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < 2; round++) {
    for (const name of names) {
      const pid = String(pids[name]);
      await serve(name, 3000);
      cg('-i', 'on', pid);
      await serve(name, 300);
      cg('-z', pid);
      const before = new Set(await readdir(callgrindDir));
      await serve(name, requests, true);
      cg('-d', pid);
      cg('-i', 'off', pid);
      const dump = (await readdir(callgrindDir)).find(
        (f) => !before.has(f) && f.startsWith(`cg.${pid}.`) && f.endsWith('-01'),
      );
      const total = Number(
        /^(?:summary|totals): (\d+)/m.exec(
          await readFile(path.join(callgrindDir, dump), 'utf8'),
        )[1],
      );
      counts[name].push(total / requests / 1000);
    }
  }
  for (const name of names)
    console.log(
      `${name}: ${counts[name].map((k) => k.toFixed(1)).join(' / ')} thousand instructions per request (main thread, two rounds of ${requests})`,
    );
  console.log(
    `c / b: ${counts.c.map((k, i) => (k / counts.b[i]).toFixed(3)).join(' / ')}; c / b3: ${counts.c.map((k, i) => (k / counts.b3[i]).toFixed(3)).join(' / ')}`,
  );
  if (baseline)
    console.log(
      `c / c0 (${baseline.main}): ${counts.c.map((k, i) => (k / counts.c0[i]).toFixed(3)).join(' / ')}`,
    );
  console.log(`callgrind dumps (callgrind_annotate --inclusive=no <file>): ${callgrindDir}`);
}

/** Profiles of (b) and (c) under the same fixed load, written when they exit: compare them. */
export async function profile({ target, auth, children }, { dir, rate, duration, connections }) {
  await autocannon({ url: target.b, headers: auth, connections, duration, overallRate: rate });
  await autocannon({ url: target.c, headers: auth, connections, duration, overallRate: rate });
  for (const child of [children.c, children.b]) {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  }
  console.log(
    `profiles of (b) bare.mjs and (c) main.js at ${rate} req/s for ${duration} s each written to ${dir}`,
  );
}

export async function diag({ target, auth, publicUrl }, { connections }) {
  for (const [name, url] of [
    ['healthz', `${publicUrl}/healthz`],
    ['guarded GET /workspaces (no cache)', `${publicUrl}/api/v1/workspaces`],
    ['proxy', target.c],
  ]) {
    const r = await autocannon({ url, headers: auth, connections, duration: 4 });
    console.log(
      `diag ${name}: ${r.requests.average} req/s p50 ${r.latency.p50} p99 ${r.latency.p99} non2xx ${r.non2xx}`,
    );
  }
}

/**
 * CPU per request of (b), (b2), (b3) and (c) at one fixed rate, in `rounds` short alternating
 * rounds. Single figures drift by several µs on a shared VM; the median of (c) minus (b) taken
 * round by round is the steadier number. With a baseline, (c) and (c0) are then loaded at the
 * same time in each round, so both see the same machine.
 */
export async function rateSideBySide(
  { target, auth, pids, baseline },
  { rate, rounds, duration, connections },
) {
  const names = ['b', 'b2', 'b3', 'c'];
  const runs = { b: [], b2: [], b3: [], c: [] };
  const measure = async (name) => {
    const r = await withCpu(pids[name], async () => {
      const run = await cannon(name, {
        url: target[name],
        headers: auth,
        connections,
        duration,
        overallRate: rate,
      });
      return { requests: run.requests.average * duration };
    });
    return { all: r.cpuMicrosPerRequest, main: r.mainThreadMicrosPerRequest };
  };
  for (let round = 0; round < rounds; round++) {
    for (const name of names) runs[name].push(await measure(name));
  }
  const pick = (name, k) => runs[name].map((r) => r[k]);
  for (const name of names) {
    console.log(
      `${name}: CPU ${median(pick(name, 'all')).toFixed(1)} µs/request (main thread ${median(pick(name, 'main')).toFixed(1)}), median of ${rounds} rounds at ${rate} req/s`,
    );
  }
  const excess = (k, base = 'b', name = 'c') =>
    median(runs[name].map((r, i) => r[k] - runs[base][i][k])).toFixed(1);
  console.log(
    `c − b, round by round: median ${excess('all')} µs (main thread ${excess('main')}); c − b3: ${excess('all', 'b3')} µs (main thread ${excess('main', 'b3')})`,
  );
  if (!baseline) return;
  const ab = { c: [], c0: [] };
  for (let round = 0; round < rounds; round++) {
    const [c, c0] = await Promise.all([measure('c'), measure('c0')]);
    ab.c.push(c);
    ab.c0.push(c0);
  }
  const mid = (name) => median(ab[name].map((r) => r.main)).toFixed(1);
  const diffs = ab.c.map((r, i) => r.main - ab.c0[i].main);
  console.log(`c − c0 by round: ${diffs.map((d) => d.toFixed(0)).join(' ')} µs`);
  console.log(
    `side by side at ${rate} req/s each, main thread: c ${mid('c')} µs, c0 (${baseline.main}) ${mid('c0')} µs; c − c0 round by round: median ${median(diffs).toFixed(1)} µs`,
  );
}
