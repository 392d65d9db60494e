// Events benchmark: (a) events per second from commit to a webhook receiver's 2xx, with one and
// with two Latchkey processes; (b) the delay from an event's recording to its delivery at half
// that rate; (c) the access-token handout with auditing on and off, side by side, closed-loop at
// saturation; (d) the same at a fixed moderate rate (open loop), where latency is the request's
// own and not the queue's; (e) at that pace, what one durable write (write + fdatasync) costs
// beside PostgreSQL's data: the least an audited handout adds, whatever the code does.
// Run with `npm run bench:events` (builds first); docs/benchmarks.md describes it. Loopback only;
// stops by itself.
//
// Events are produced by real API calls: access-token handouts (`GET …/access-token`), each of
// which records `token.handed_out` through EventsService in its request, with the pending
// delivery inserted by the same statement and announced by the trigger, as every event is. The
// handouts are sent to the delivering processes themselves, so "one process" is one process doing
// both the API work and the deliveries, as a single replica would. Each new process is warmed up
// first (unmeasured handouts); CPU per event is measured for Latchkey and for the PostgreSQL server
// (from /proc, when it runs on this host), which on a shared machine are steadier than the rates.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../dist/src/common/logging/logger.js';
import { cannon, f, f2, median, percentile } from '../proxy/measure.mjs';
import { flushFloor } from './flush-floor.mjs';
import { paced } from '../proxy/paced.mjs';
import { ROOT, freePort, startLatchkey, stopAll } from '../proxy/processes.mjs';
import {
  apiClient,
  createIntegration,
  randomAccessToken,
  seedConnections,
  startDatabase,
} from '../proxy/seed.mjs';

const env = process.env;
const SECONDS = Number(env.BENCH_DURATION ?? 10);
const CALLERS = Number(env.BENCH_CONNECTIONS ?? 16);
const DRAIN_SECONDS = Number(env.BENCH_DRAIN_SECONDS ?? 60);
const HANDOUT_ROUNDS = Number(env.BENCH_HANDOUT_ROUNDS ?? 3);
const HANDOUT_SECONDS = Number(env.BENCH_HANDOUT_SECONDS ?? 5);
const HANDOUT_RATE = Number(env.BENCH_HANDOUT_RATE ?? 200);
const WARMUP_SECONDS = Number(env.BENCH_WARMUP_SECONDS ?? 3);
// BENCH_PHASES=handouts: only (c) and (d), e.g. to compare changes to the handout's audit write.
const ONLY_HANDOUTS = env.BENCH_PHASES === 'handouts';
const TARGETS = { perProcess: 1000, p99Ms: 1000, handout: 1.1 };
// BENCH_COUNT_QUERIES: count the database round trips of the Latchkey processes (a preloaded
// counter, bench/events/count-queries.mjs) and report them per event and per handout.
const COUNT_DIR = env.BENCH_COUNT_QUERIES
  ? await mkdtemp(path.join(tmpdir(), 'latchkey-bench-queries-'))
  : undefined;

/** Queries sent so far by each process, by statement shape (empty unless BENCH_COUNT_QUERIES). */
async function queriesOf(pids) {
  if (!COUNT_DIR) return pids.map(() => ({}));
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  await sleep(300);
  return Promise.all(
    pids.map(async (pid) =>
      JSON.parse(await readFile(path.join(COUNT_DIR, `${pid}.json`), 'utf8')),
    ),
  );
}

/** Queries per `per` between two snapshots, summed over processes: total and the busiest shapes. */
function queriesPer(before, after, per) {
  if (!COUNT_DIR) return undefined;
  const diff = new Map();
  after.forEach((counts, i) => {
    for (const [shape, n] of Object.entries(counts))
      diff.set(shape, (diff.get(shape) ?? 0) + n - (before[i][shape] ?? 0));
  });
  const shapes = [...diff].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  return {
    total: shapes.reduce((s, [, n]) => s + n, 0) / per,
    byShape: shapes.slice(0, 12).map(([shape, n]) => [Math.round((n / per) * 100) / 100, shape]),
  };
}

/** The webhook receiver: answers 200 at once, keeps each delivery's arrival and its event's time. */
function startReceiver() {
  const state = { seen: new Map(), duplicates: 0, deliveries: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const id = req.headers['webhook-id'];
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (state.seen.has(id)) state.duplicates++;
      else state.deliveries.push({ at, occurredAt: Date.parse(event.occurredAt) });
      state.seen.set(id, at);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      state.url = `http://127.0.0.1:${server.address().port}/hook`;
      state.reset = () => {
        state.deliveries = [];
        state.duplicates = 0;
      };
      state.close = () => new Promise((r) => server.close(r));
      resolve(state);
    }),
  );
}

async function ticks(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks (100/s) → ms
}
const cpuOf = async (pids) => Promise.all(pids.map(ticks));

/**
 * CPU ms spent so far by the PostgreSQL server's processes (the postmaster's children: every
 * backend, the WAL writer…), found from a backend of `ds`; null when the database runs elsewhere.
 */
async function postgresCpu(ds) {
  try {
    const [{ pid }] = await ds.query('SELECT pg_backend_pid() AS pid');
    const ppidOf = async (p) =>
      Number((await readFile(`/proc/${p}/stat`, 'utf8')).split(') ')[1].split(' ')[1]);
    const postmaster = await ppidOf(pid);
    let total = 0;
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if ((await ppidOf(entry)) === postmaster) total += await ticks(entry);
      } catch {
        /* gone meanwhile */
      }
    }
    return total;
  } catch {
    return null;
  }
}

/** Waits until `count` events recorded since `since` have reached the receiver, or the deadline. */
async function drained(ds, receiver, since, deadlineMs) {
  for (;;) {
    const [{ n }] = await ds.query(
      `SELECT count(*)::int AS n FROM events WHERE type = 'token.handed_out' AND occurred_at >= $1`,
      [new Date(since)],
    );
    const delivered = receiver.deliveries.filter((d) => d.occurredAt >= since).length;
    if (delivered >= n) return { recorded: n, delivered, complete: true };
    if (Date.now() > deadlineMs) return { recorded: n, delivered, complete: false };
    await sleep(100);
  }
}

/**
 * (a): `CALLERS` handout callers per process for `SECONDS`, then the backlog drains. Rate: events
 * recorded ÷ (last delivery − first recording).
 */
async function throughput(ds, receiver, processes, url) {
  receiver.reset();
  const since = Date.now();
  const pids = processes.map((p) => p.child.pid);
  const queries0 = await queriesOf(pids);
  const cpu0 = await cpuOf(pids);
  const pg0 = await postgresCpu(ds);
  const loads = await Promise.all(
    processes.map((p) =>
      cannon('handouts', {
        url: `${p.publicUrl}${url.path}`,
        headers: url.headers,
        connections: CALLERS,
        duration: SECONDS,
      }),
    ),
  );
  const producedAt = Date.now();
  const done = await drained(ds, receiver, since, Date.now() + DRAIN_SECONDS * 1000);
  const cpu1 = await cpuOf(pids);
  const pg1 = await postgresCpu(ds);
  const queries1 = await queriesOf(pids);
  const mine = receiver.deliveries.filter((d) => d.occurredAt >= since);
  const first = Math.min(...mine.map((d) => d.occurredAt));
  const last = Math.max(...mine.map((d) => d.at));
  const duringLoad = mine.filter((d) => d.at <= producedAt).length;
  return {
    processes: processes.length,
    recorded: done.recorded,
    delivered: done.delivered,
    complete: done.complete,
    duplicates: receiver.duplicates,
    handoutsPerSecond: loads.reduce((s, l) => s + l.requests.average, 0),
    seconds: (last - first) / 1000,
    eventsPerSecond: done.delivered / ((last - first) / 1000),
    deliveredPerSecondUnderLoad: duringLoad / ((producedAt - since) / 1000),
    drainSeconds: (last - producedAt) / 1000,
    latchkeyCpuMsPerEvent: cpu1.map((c, i) => (c - cpu0[i]) / done.delivered),
    postgresCpuMsPerEvent: pg0 === null ? null : (pg1 - pg0) / done.delivered,
    queriesPerEvent: queriesPer(queries0, queries1, done.delivered),
  };
}

/** (b): handouts evenly paced at `rate` in all (split over the processes); delay to delivery. */
async function halfRate(ds, receiver, processes, url, rate) {
  receiver.reset();
  const since = Date.now();
  const measureFrom = since + 1000; // the first second opens connections on every path
  const loads = await Promise.all(
    processes.map((p) =>
      paced({
        url: `${p.publicUrl}${url.path}`,
        headers: url.headers,
        rate: rate / processes.length,
        seconds: SECONDS,
        warmupSeconds: 1,
      }),
    ),
  );
  const done = await drained(ds, receiver, since, Date.now() + DRAIN_SECONDS * 1000);
  const delays = receiver.deliveries
    .filter((d) => d.occurredAt >= measureFrom)
    .map((d) => d.at - d.occurredAt);
  return {
    processes: processes.length,
    rate,
    handoutsPerSecond: loads.reduce((s, l) => s + l.rps, 0),
    handoutP99: Math.max(...loads.map((l) => l.p99)),
    events: delays.length,
    complete: done.complete,
    duplicates: receiver.duplicates,
    p50: percentile(delays, 50),
    p99: percentile(delays, 99),
    max: Math.max(...delays),
  };
}

/** (c): closed-loop handouts on the auditing and the non-auditing process, alternately. */
async function handouts(ds, on, off, url) {
  const rounds = [];
  const queries0 = await queriesOf([on.child.pid]);
  let handedOut = 0;
  for (let round = 0; round < HANDOUT_ROUNDS; round++) {
    const order = round % 2 ? ['off', 'on'] : ['on', 'off'];
    const r = {};
    for (const name of order) {
      const p = name === 'on' ? on : off;
      const [cpu0] = await cpuOf([p.child.pid]);
      const pg0 = await postgresCpu(ds);
      const res = await cannon(`handouts ${name}`, {
        url: `${p.publicUrl}${url.path}`,
        headers: url.headers,
        connections: CALLERS,
        duration: HANDOUT_SECONDS,
      });
      const [cpu1] = await cpuOf([p.child.pid]);
      const pg1 = await postgresCpu(ds);
      r[name] = {
        rps: res.requests.average,
        p50: res.latency.p50,
        p99: res.latency.p99,
        latchkeyCpuMs: (cpu1 - cpu0) / res.requests.total,
        postgresCpuMs: pg0 === null ? null : (pg1 - pg0) / res.requests.total,
      };
      if (name === 'on') handedOut += res.requests.total;
    }
    rounds.push(r);
  }
  const ratio = (k) => median(rounds.map((r) => r.on[k] / r.off[k]));
  const queriesPerHandout = queriesPer(queries0, await queriesOf([on.child.pid]), handedOut);
  const cpu = (name, k) => median(rounds.map((r) => r[name][k]));
  return {
    rounds,
    p50: ratio('p50'),
    p99: ratio('p99'),
    rps: ratio('rps'),
    // CPU per handout, median of the rounds: what auditing adds to the handout itself.
    cpuMs: {
      latchkey: { on: cpu('on', 'latchkeyCpuMs'), off: cpu('off', 'latchkeyCpuMs') },
      postgres: { on: cpu('on', 'postgresCpuMs'), off: cpu('off', 'postgresCpuMs') },
    },
    queriesPerHandout,
  };
}

/** (d): handouts paced at `HANDOUT_RATE`/s on the auditing and the non-auditing process, alternately. */
async function pacedHandouts(on, off, url) {
  const rounds = [];
  for (let round = 0; round < HANDOUT_ROUNDS; round++) {
    const order = round % 2 ? ['off', 'on'] : ['on', 'off'];
    const r = {};
    for (const name of order) {
      const p = name === 'on' ? on : off;
      const res = await paced({
        url: `${p.publicUrl}${url.path}`,
        headers: url.headers,
        rate: HANDOUT_RATE,
        seconds: HANDOUT_SECONDS,
        warmupSeconds: 1,
      });
      if (res.errors) throw new Error(`paced handouts ${name}: ${res.errors} errors`);
      r[name] = { p50: res.p50, p99: res.p99 };
    }
    rounds.push(r);
  }
  const ratio = (k) => median(rounds.map((r) => r.on[k] / r.off[k]));
  return { rate: HANDOUT_RATE, rounds, p50: ratio('p50'), p99: ratio('p99') };
}

async function main() {
  const started = Date.now();
  const { ds, url: dbUrl, dataDir } = await startDatabase(createLogger('warn'));
  const receiver = await startReceiver();
  const keySpec = `bench:${randomBytes(32).toString('base64')}`;
  const bootstrap = { id: 'bench-bootstrap', secret: randomBytes(24).toString('hex') };
  const firstPort = await freePort();
  const latchkeyEnv = {
    NODE_ENV: 'test',
    PUBLIC_URL: `http://127.0.0.1:${firstPort}`, // one token issuer, as behind a load balancer
    // BENCH_PG_OPTIONS: session settings of Latchkey's connections, e.g. `-c synchronous_commit=off`
    // to see what the commit's flush costs.
    DATABASE_URL: env.BENCH_PG_OPTIONS
      ? `${dbUrl}${dbUrl.includes('?') ? '&' : '?'}options=${encodeURIComponent(env.BENCH_PG_OPTIONS)}`
      : dbUrl,
    LATCHKEY_ENCRYPTION_KEYS: keySpec,
    LATCHKEY_BOOTSTRAP_CLIENT_ID: bootstrap.id,
    LATCHKEY_BOOTSTRAP_CLIENT_SECRET: bootstrap.secret,
    LATCHKEY_ADMIN_EMAIL: 'bench@example.test',
    LATCHKEY_ADMIN_PASSWORD: randomBytes(12).toString('hex'),
    LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true', // the receiver is on loopback
    LOG_LEVEL: 'warn',
    ...(COUNT_DIR ? { BENCH_QUERY_COUNTS_DIR: COUNT_DIR } : {}),
  };
  const flags = [
    ...JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'))
      .scripts.start.split(/\s+/)
      .filter((a) => a.startsWith('--')),
    ...(env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${env.BENCH_PROFILE_DIR}`] : []),
    ...(COUNT_DIR ? ['--import', path.join(ROOT, 'bench/events/count-queries.mjs')] : []),
  ];
  const main = path.join(ROOT, 'dist/src/main.js');
  const start = async (port, extra = {}) =>
    startLatchkey({ main, port, flags, env: { ...latchkeyEnv, ...extra } });

  const d1 = await start(firstPort);
  const api = await apiClient(d1.publicUrl, bootstrap);
  const integration = await createIntegration(api, 'http://127.0.0.1:9'); // never called
  const [connectionId] = await seedConnections(ds, keySpec, integration, {
    count: 1,
    accessToken: randomAccessToken,
  });
  await api.call('POST', '/api/v1/webhook-endpoints', { url: receiver.url });
  const url = {
    path: `/api/v1/connections/${connectionId}/access-token`,
    headers: { authorization: `Bearer ${api.token}` },
  };

  const report = { throughput: [], halfRate: [] };
  const round = async (processes) => {
    const t = await throughput(ds, receiver, processes, url);
    report.throughput.push(t);
    console.error(`throughput, ${processes.length} process(es): ${JSON.stringify(t)}`);
    const h = await halfRate(ds, receiver, processes, url, Math.round(t.eventsPerSecond / 2));
    report.halfRate.push(h);
    console.error(`half rate, ${processes.length} process(es): ${JSON.stringify(h)}`);
  };
  // Each new process first serves (and delivers) unmeasured handouts, so that no phase measures
  // its start-up (compiling, the first connections).
  const warm = async (processes, { deliver = true } = {}) => {
    if (!WARMUP_SECONDS) return;
    const since = Date.now();
    await Promise.all(
      processes.map((p) =>
        cannon('warm-up', {
          url: `${p.publicUrl}${url.path}`,
          headers: url.headers,
          connections: CALLERS,
          duration: WARMUP_SECONDS,
        }),
      ),
    );
    if (deliver) await drained(ds, receiver, since, Date.now() + DRAIN_SECONDS * 1000);
  };
  let d2 = null;
  if (!ONLY_HANDOUTS) {
    await warm([d1]);
    await round([d1]);
    d2 = await start(await freePort());
    await warm([d2]);
    await round([d1, d2]);
  }

  // (c) on two processes of their own that deliver nothing (the scheduler off), so that only the
  // auditing setting differs; the endpoint stays subscribed, so "on" also writes its deliveries.
  d1.child.kill('SIGTERM');
  d2?.child.kill('SIGTERM');
  const quiet = { LATCHKEY_SCHEDULER_ENABLED: 'false' };
  const on = await start(await freePort(), quiet);
  const off = await start(await freePort(), { ...quiet, LATCHKEY_AUDIT_TOKEN_HANDOUTS: 'false' });
  await warm([on, off], { deliver: false }); // they deliver nothing
  report.handouts = await handouts(ds, on, off, url);
  report.pacedHandouts = await pacedHandouts(on, off, url);
  // (e) beside PostgreSQL's data when it runs here: what one durable write costs at that pace.
  report.flushFloor = dataDir ? await flushFloor(dataDir, HANDOUT_RATE, HANDOUT_SECONDS) : null;

  const [{ server_version: pg }] = await ds.query('SHOW server_version');
  report.environment = {
    node: process.version,
    postgres: pg,
    cores: cpus().length,
    cpu: cpus()[0]?.model,
    seconds: SECONDS,
    callers: CALLERS,
  };
  report.seconds = (Date.now() - started) / 1000;
  printSummary(report);
  console.log(JSON.stringify(report, null, 2));
  await receiver.close();
}

function printSummary(r) {
  const lines = [
    `Node ${r.environment.node}, PostgreSQL ${r.environment.postgres}, ${r.environment.cores} cores (${r.environment.cpu}); ${r.environment.callers} callers per process, ${r.environment.seconds} s per phase; ${f(r.seconds)} s in all.`,
    '',
    '| processes | events/s (commit → 2xx) | per process | handouts/s | delivered/s under load | drain s | duplicates | Latchkey CPU ms/event | PostgreSQL CPU ms/event | all delivered |',
    '| --------- | ----------------------- | ----------- | ---------- | ---------------------- | ------- | ---------- | --------------------- | ----------------------- | ------------- |',
    ...r.throughput.map(
      (t) =>
        `| ${t.processes} | ${f(t.eventsPerSecond)} | ${f(t.eventsPerSecond / t.processes)} | ${f(t.handoutsPerSecond)} | ${f(t.deliveredPerSecondUnderLoad)} | ${f(t.drainSeconds)} | ${t.duplicates} | ${t.latchkeyCpuMsPerEvent.map(f2).join(' + ')} | ${t.postgresCpuMsPerEvent === null ? '–' : f2(t.postgresCpuMsPerEvent)} | ${t.complete ? 'yes' : 'NO'} |`,
    ),
    '',
    '| processes | rate (events/s) | events | delay p50 ms | delay p99 ms | max ms | handout p99 ms | all delivered |',
    '| --------- | --------------- | ------ | ------------ | ------------ | ------ | -------------- | ------------- |',
    ...r.halfRate.map(
      (h) =>
        `| ${h.processes} | ${h.rate} | ${h.events} | ${f(h.p50)} | ${f(h.p99)} | ${f(h.max)} | ${f(h.handoutP99)} | ${h.complete ? 'yes' : 'NO'} |`,
    ),
    '',
    ...(r.throughput[0]?.queriesPerEvent
      ? [
          `Database round trips per event (handout and delivery, one process): ${f2(r.throughput[0].queriesPerEvent.total)}; per audited handout alone: ${f2(r.handouts.queriesPerHandout.total)}`,
          '',
        ]
      : []),
    `Handout, auditing on ÷ off (median of ${r.handouts.rounds.length} paired rounds): p50 ${f2(r.handouts.p50)}, p99 ${f2(r.handouts.p99)}, throughput ${f2(r.handouts.rps)}`,
    `  CPU ms per handout, on / off: Latchkey ${f2(r.handouts.cpuMs.latchkey.on)} / ${f2(r.handouts.cpuMs.latchkey.off)}${r.handouts.cpuMs.postgres.on === null ? '' : `, PostgreSQL ${f2(r.handouts.cpuMs.postgres.on)} / ${f2(r.handouts.cpuMs.postgres.off)}`}`,
    ...r.handouts.rounds.map(
      (x, i) =>
        `  round ${i + 1}: on ${f(x.on.rps)}/s p50 ${x.on.p50} p99 ${x.on.p99} ms; off ${f(x.off.rps)}/s p50 ${x.off.p50} p99 ${x.off.p99} ms`,
    ),
    `Handout at ${r.pacedHandouts.rate}/s (open loop), auditing on ÷ off (median of ${r.pacedHandouts.rounds.length} paired rounds): p50 ${f2(r.pacedHandouts.p50)}, p99 ${f2(r.pacedHandouts.p99)}`,
    ...r.pacedHandouts.rounds.map(
      (x, i) =>
        `  round ${i + 1}: on p50 ${f2(x.on.p50)} p99 ${f2(x.on.p99)} ms; off p50 ${f2(x.off.p50)} p99 ${f2(x.off.p99)} ms`,
    ),
    ...(r.flushFloor
      ? [
          `Durable-write floor at ${r.pacedHandouts.rate}/s (8 kB write + fdatasync beside PostgreSQL's data): p50 ${f2(r.flushFloor.p50)}, p99 ${f2(r.flushFloor.p99)} ms; 10% of the unaudited p50: ${f2(0.1 * median(r.pacedHandouts.rounds.map((x) => x.off.p50)))} ms`,
        ]
      : []),
    '',
    'Targets:',
    ...r.throughput.map(
      (t) =>
        `  ${t.processes} process(es): ${f(t.eventsPerSecond / t.processes)} events/s per process (≥ ${TARGETS.perProcess}) ${t.eventsPerSecond / t.processes >= TARGETS.perProcess ? 'met' : 'MISSED'}`,
    ),
    ...r.halfRate.map(
      (h) =>
        `  ${h.processes} process(es) at half rate: p99 ${f(h.p99)} ms (≤ ${TARGETS.p99Ms}) ${h.p99 <= TARGETS.p99Ms ? 'met' : 'MISSED'}`,
    ),
    `  handout with auditing: p50 ×${f2(r.handouts.p50)}, p99 ×${f2(r.handouts.p99)}, throughput ×${f2(r.handouts.rps)} (within ${Math.round((TARGETS.handout - 1) * 100)}%) ${r.handouts.p50 <= TARGETS.handout && r.handouts.p99 <= TARGETS.handout && r.handouts.rps >= 1 / TARGETS.handout ? 'met' : 'MISSED'}`,
    `  handout with auditing at ${r.pacedHandouts.rate}/s: p50 ×${f2(r.pacedHandouts.p50)}, p99 ×${f2(r.pacedHandouts.p99)} (within ${Math.round((TARGETS.handout - 1) * 100)}%) ${r.pacedHandouts.p50 <= TARGETS.handout && r.pacedHandouts.p99 <= TARGETS.handout ? 'met' : 'MISSED'}`,
  ];
  console.error(lines.join('\n'));
}

try {
  await main();
} finally {
  await stopAll();
  if (COUNT_DIR) await rm(COUNT_DIR, { recursive: true, force: true });
}
