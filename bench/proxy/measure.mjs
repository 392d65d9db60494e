// What every mode measures with: autocannon runs that fail loudly, CPU time and resident memory of
// a process from /proc, medians and round-by-round ratios.
import { readFile } from 'node:fs/promises';
import autocannon from 'autocannon';

/** An autocannon run that throws on any error or non-2xx answer. */
export async function cannon(name, options) {
  const r = await autocannon(options);
  if (r.errors || r.non2xx) throw new Error(`${name}: ${r.errors} errors, ${r.non2xx} non-2xx`);
  return r;
}

/** A closed-loop load on `url` (`connections` callers for `duration` s); req/s and latency in ms. */
export async function load(url, headers, { connections, duration, ...extra }) {
  const r = await cannon(url, { url, headers, connections, duration, ...extra });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

async function ticks(file) {
  const f = (await readFile(file, 'utf8')).split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000; // clock ticks (100/s) → µs
}

/** CPU time of a process, and of its main (JavaScript) thread alone: the rest is GC helpers and libuv. */
async function cpuTicks(pid) {
  return {
    all: await ticks(`/proc/${pid}/stat`),
    main: await ticks(`/proc/${pid}/task/${pid}/stat`),
  };
}

/**
 * Runs `load` (which resolves with `{ requests, ... }`: how many requests the window served) and
 * adds the CPU time `pid` spent per request meanwhile, whole process and main thread, in µs.
 */
export async function withCpu(pid, load) {
  const before = await cpuTicks(pid);
  const r = await load();
  const after = await cpuTicks(pid);
  return {
    ...r,
    cpuMicrosPerRequest: (after.all - before.all) / r.requests,
    mainThreadMicrosPerRequest: (after.main - before.main) / r.requests,
  };
}

/** Resident memory of a process in bytes (VmRSS). */
export async function rssOf(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024;
}

export const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
/** The `p`th percentile (nearest rank) of a list of numbers. */
export const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
/** The median of each numeric field over a list of runs. */
export const medianOf = (runs) =>
  Object.fromEntries(Object.keys(runs[0]).map((k) => [k, median(runs.map((r) => r[k]))]));
/** x/y taken round by round (both lists in round order), and their median. */
export function pairedRatio(xs, ys, value) {
  const rounds = xs.map((x, i) => value(x) / value(ys[i]));
  return { median: median(rounds), rounds };
}
/** The paths in a different order each round, so that no path always runs right after the same one. */
export const rotated = (names, round) => [
  ...names.slice(round % names.length),
  ...names.slice(0, round % names.length),
];

/** Formatting for the report: two decimals below 10, whole numbers above. */
export const f = (n) => (typeof n === 'number' ? n.toFixed(n < 10 ? 2 : 0) : n);
export const f2 = (n) => n.toFixed(2);
