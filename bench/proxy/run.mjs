// Proxy benchmark: (a) direct to a local upstream, (b) through a bare undici pass-through
// (b2, b3: the same with other undici APIs), (c) through Latchkey with a real connection.
// Run with `npm run bench:proxy` (builds first); docs/benchmarks.md describes every mode.
// Every server runs in its own process; autocannon runs here. Loopback only; stops by itself.
import { execFileSync, fork, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { paced } from './paced.mjs';
import { KeyRing } from '../../dist/src/common/crypto/key-ring.js';
import { createLogger } from '../../dist/src/common/logging/logger.js';
import { createDataSource, migrate } from '../../dist/src/database/data-source.js';
import { startEmbeddedPostgres } from '../../dist/src/database/embedded-postgres.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const children = [];
const cleanup = [];

// BENCH_INSTRUCTIONS=N counts the instructions (b) and (c) execute per request, over N requests
// each, under valgrind's callgrind: unlike CPU time, that count hardly moves with the machine's
// load. BENCH_WRAP runs (b) and (c) under any other program.
const INSTRUCTIONS = Number(process.env.BENCH_INSTRUCTIONS ?? 0);
const CALLGRIND_DIR = INSTRUCTIONS ? await mkdtemp(path.join(tmpdir(), 'latchkey-callgrind-')) : '';
const WRAP = INSTRUCTIONS
  ? ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', '--smc-check=all-non-file', `--callgrind-out-file=${CALLGRIND_DIR}/cg.%p.out`]
  : (process.env.BENCH_WRAP?.split(/\s+/).filter(Boolean) ?? []);

function forkServer(file, env = {}, execArgv = [], wrap = []) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(ROOT, 'bench/proxy', file), {
      env: { ...process.env, ...env },
      stdio: 'inherit',
      ...(wrap.length ? { execPath: wrap[0], execArgv: [...wrap.slice(1), process.execPath, ...execArgv] } : { execArgv }),
    });
    children.push(child);
    child.once('message', (m) => resolve({ child, port: m.port }));
    child.once('exit', (code) => reject(new Error(`${file} exited ${code}`)));
  });
}

const freePort = () =>
  new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function waitFor(url, ms = WRAP.length ? 900_000 : 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function load(url, headers, extra = {}) {
  const r = await autocannon({ url, headers, connections: CONNECTIONS, duration: DURATION, ...extra });
  if (r.errors || r.non2xx) throw new Error(`${url}: ${r.errors} errors, ${r.non2xx} non-2xx`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

async function ticks(file) {
  const f = (await readFile(file, 'utf8')).split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000; // clock ticks (100/s) → µs
}

/** CPU time of a process, and of its main (JavaScript) thread alone: the rest is GC helpers and libuv. */
async function cpuTicks(pid) {
  return { all: await ticks(`/proc/${pid}/stat`), main: await ticks(`/proc/${pid}/task/${pid}/stat`) };
}

/**
 * Runs `load` (which resolves with `{ requests, ... }`: how many requests the window served) and
 * adds the CPU time `pid` spent per request meanwhile, whole process and main thread, in µs.
 */
async function withCpu(pid, load) {
  const before = await cpuTicks(pid);
  const r = await load();
  const after = await cpuTicks(pid);
  return { ...r, cpuMicrosPerRequest: (after.all - before.all) / r.requests, mainThreadMicrosPerRequest: (after.main - before.main) / r.requests };
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
/** The paths in a different order each round, so that no path always runs right after the same one. */
const rotated = (names, round) => [...names.slice(round % names.length), ...names.slice(0, round % names.length)];

async function rssOf(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024;
}

async function download(url, headers, times) {
  let bytes = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < times; i++) {
    const res = await fetch(url, { headers });
    for await (const chunk of res.body) bytes += chunk.length;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { bytes, seconds, mbPerSecond: bytes / 1024 / 1024 / seconds };
}

async function main() {
  const logger = createLogger('warn');
  let dbUrl = process.env.DATABASE_URL;
  if (!dbUrl) {
    const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-bench-'));
    await chmod(dir, 0o711);
    const embedded = await startEmbeddedPostgres({ dataDir: dir, port: await freePort(), database: 'latchkey_bench', logger });
    cleanup.push(async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    });
    dbUrl = embedded.url;
  }
  const ds = createDataSource(dbUrl);
  await ds.initialize();
  await migrate(ds);

  const { port: upPort } = await forkServer('upstream.mjs');
  const upstream = `http://127.0.0.1:${upPort}`;
  // Extra node flags for (b) and (c): a CPU profile each, and/or BENCH_NODE_FLAGS (e.g. --perf-basic-prof).
  const profile = [
    ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
    ...(process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? []),
  ];
  const { port: barePort, child: bareChild } = await forkServer('bare.mjs', { UPSTREAM: upstream, BARE_MODE: 'stream' }, profile, WRAP);
  const { port: pipePort, child: pipeChild } = await forkServer('bare.mjs', { UPSTREAM: upstream, BARE_MODE: 'pipeline' });
  const { port: dispatchPort, child: dispatchChild } = await forkServer('bare.mjs', { UPSTREAM: upstream, BARE_MODE: 'dispatch' }, profile, WRAP);

  const keySpec = `bench:${randomBytes(32).toString('base64')}`;
  const bootstrap = { id: 'bench-bootstrap', secret: randomBytes(24).toString('hex') };
  // A Latchkey process: this build's dist/src/main.js, or another build's (BENCH_BASELINE) as a
  // second replica on the same database, so a change can be compared with its baseline in one run.
  // Replicas share one PUBLIC_URL (the token issuer), as they would behind a load balancer.
  const firstPort = await freePort();
  // Every Latchkey runs with the node flags of `npm start` (package.json), as users run it;
  // BENCH_LATCHKEY_NODE_FLAGS adds flags for this build's Latchkey only (not a baseline).
  const startFlags = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).scripts.start.split(/\s+/).filter((a) => a.startsWith('--'));
  const ownFlags = process.env.BENCH_LATCHKEY_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
  // BENCH_BASELINE_START_FLAGS replaces npm start's flags for the baseline alone, to compare a
  // change of those flags with the flags before it.
  const baselineStartFlags = process.env.BENCH_BASELINE_START_FLAGS?.split(/\s+/).filter(Boolean) ?? startFlags;
  const startLatchkey = async (main, port = firstPort, flags = [], base = startFlags) => {
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(WRAP[0] ?? process.execPath, [...WRAP.slice(1), ...(WRAP.length ? [process.execPath] : []), ...base, ...profile, ...flags, main], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${firstPort}`,
        DATABASE_URL: dbUrl,
        LATCHKEY_ENCRYPTION_KEYS: keySpec,
        LATCHKEY_BOOTSTRAP_CLIENT_ID: bootstrap.id,
        LATCHKEY_BOOTSTRAP_CLIENT_SECRET: bootstrap.secret,
        LATCHKEY_ADMIN_EMAIL: 'bench@example.test',
        LATCHKEY_ADMIN_PASSWORD: randomBytes(12).toString('hex'),
        LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true',
        LATCHKEY_SCHEDULER_ENABLED: 'false',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    await waitFor(`${url}/readyz`);
    return { child, publicUrl: url };
  };
  const { child: latchkey, publicUrl } = await startLatchkey(path.join(ROOT, 'dist/src/main.js'), firstPort, ownFlags);
  const baseline = process.env.BENCH_BASELINE ? await startLatchkey(path.resolve(process.env.BENCH_BASELINE), await freePort(), [], baselineStartFlags) : undefined;

  // A real connection whose API base is the same upstream the others use.
  const tokenRes = await fetch(`${publicUrl}/api/v1/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: bootstrap.id, client_secret: bootstrap.secret }),
  });
  const apiToken = (await tokenRes.json()).access_token;
  const api = async (method, p, body) => {
    const r = await fetch(`${publicUrl}${p}`, { method, headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = await r.json();
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  const offering = await api('POST', '/api/v1/offerings', {
    key: 'bench',
    provider: 'bench',
    environment: 'local',
    displayName: 'Bench',
    authorizationUrl: `${upstream}/authorize`,
    tokenUrl: `${upstream}/token`,
    scopes: { required: [], optional: [] },
    apiBaseUrl: upstream,
  });
  const integration = await api('POST', '/api/v1/integrations', { name: 'bench', offeringId: offering.id, clientId: 'bench-client' });
  const connectionId = randomUUID();
  const ring = KeyRing.fromSpec(keySpec);
  const credentials = ring.encrypt(JSON.stringify({ accessToken: 'bench-access-token', refreshToken: 'bench-refresh', tokenType: 'Bearer', issuedAt: Date.now(), raw: {} }), {
    table: 'connections',
    rowId: connectionId,
    field: 'credentials',
  });
  await ds.query(
    `INSERT INTO connections (id, workspace_id, integration_id, end_user_id, provider_user_id, granted_scopes, status,
       credentials_enc, access_token_expires_at, credentials_version)
     VALUES ($1, $2, $3, 'bench-user', 'bench-account', '{}', 'active', $4, now() + interval '1 day', 1)`,
    [connectionId, integration.workspaceId, integration.id, credentials],
  );

  const auth = { authorization: `Bearer ${apiToken}` };
  const target = {
    a: `${upstream}/services/data/v62.0/query`,
    b: `http://127.0.0.1:${barePort}/proxy/services/data/v62.0/query`,
    b2: `http://127.0.0.1:${pipePort}/proxy/services/data/v62.0/query`,
    b3: `http://127.0.0.1:${dispatchPort}/proxy/services/data/v62.0/query`,
    c: `${publicUrl}/api/v1/proxy/${connectionId}/services/data/v62.0/query`,
    ...(baseline ? { c0: `${baseline.publicUrl}/api/v1/proxy/${connectionId}/services/data/v62.0/query` } : {}),
  };
  // Warm up every path (connection caches, keep-alive pools, JIT).
  for (const url of Object.values(target)) await autocannon({ url, headers: auth, connections: 8, duration: 2 });

  if (process.env.BENCH_HOLD) {
    // For tracing by hand (perf, strace): print the processes and URLs, keep serving until Ctrl-C.
    console.log(JSON.stringify({ pids: { b: bareChild.pid, b2: pipeChild.pid, b3: dispatchChild.pid, c: latchkey.pid, c0: baseline?.child.pid }, target, authorization: auth.authorization }));
    await new Promise((resolve) => process.once('SIGINT', resolve));
    return;
  }
  if (INSTRUCTIONS) {
    // Per process: warm up (JIT tiers), switch instrumentation on, zero the counters, serve N
    // requests, dump. The main thread's total is the figure (the others are GC and compiler
    // helpers, which valgrind runs one at a time). Done twice, to show how steady it is.
    const cg = (...args) => execFileSync('callgrind_control', args, { stdio: 'ignore' });
    // BENCH_INSTRUCTIONS_RATE=R paces the counted requests at R per second instead of as fast as
    // the process can go: one request per event-loop turn, so per-turn costs are not shared.
    const pacedRate = Number(process.env.BENCH_INSTRUCTIONS_RATE ?? 0);
    const serve = async (name, amount, counted = false) => {
      const pace = counted && pacedRate ? { connections: CONNECTIONS, overallRate: pacedRate } : { connections: 8 };
      const r = await autocannon({ url: target[name], headers: auth, ...pace, amount, timeout: 120 });
      if (r.errors || r.non2xx) throw new Error(`${name}: ${r.errors} errors, ${r.non2xx} non-2xx`);
    };
    const pids = { b: bareChild.pid, b3: dispatchChild.pid, c: latchkey.pid, c0: baseline?.child.pid };
    const names = baseline ? ['b', 'b3', 'c', 'c0'] : ['b', 'b3', 'c'];
    const counts = Object.fromEntries(names.map((name) => [name, []]));
    // V8's slow nextTick state (docs/benchmarks.md): tick objects built through the runtime, which
    // adds ~45k instructions per request to any process in it. Counts compare only within a state.
    const slow = Object.fromEntries(names.map((name) => [name, []]));
    const slowPathPerRequest = (file) => {
      const annotated = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
      const m = /^\s*([\d,]+)\s.*Runtime_DefineKeyedOwnPropertyInLiteral/m.exec(annotated);
      return m ? Number(m[1].replaceAll(',', '')) / INSTRUCTIONS : 0;
    };
    for (let round = 0; round < 2; round++) {
      for (const name of names) {
        const pid = String(pids[name]);
        await serve(name, 3000);
        cg('-i', 'on', pid);
        await serve(name, 300);
        cg('-z', pid);
        const before = new Set(await readdir(CALLGRIND_DIR));
        await serve(name, INSTRUCTIONS, true);
        cg('-d', pid);
        cg('-i', 'off', pid);
        const dump = (await readdir(CALLGRIND_DIR)).find((f) => !before.has(f) && f.startsWith(`cg.${pid}.`) && f.endsWith('-01'));
        const total = Number(/^(?:summary|totals): (\d+)/m.exec(await readFile(path.join(CALLGRIND_DIR, dump), 'utf8'))[1]);
        counts[name].push(total / INSTRUCTIONS / 1000);
        slow[name].push(slowPathPerRequest(path.join(CALLGRIND_DIR, dump)) > 1000);
      }
    }
    const marked = (name) => counts[name].map((k, i) => `${k.toFixed(1)}${slow[name][i] ? '¹' : ''}`).join(' / ');
    for (const name of names) console.log(`${name}: ${marked(name)} thousand instructions per request (main thread, two rounds of ${INSTRUCTIONS})`);
    if (names.some((name) => slow[name].some(Boolean))) console.log('¹ in V8\'s slow nextTick state (Runtime_DefineKeyedOwnPropertyInLiteral over 1k instructions per request): compare only figures in the same state');
    console.log(`c / b: ${counts.c.map((k, i) => (k / counts.b[i]).toFixed(3)).join(' / ')}; c / b3: ${counts.c.map((k, i) => (k / counts.b3[i]).toFixed(3)).join(' / ')}`);
    if (baseline) console.log(`c / c0 (${process.env.BENCH_BASELINE}): ${counts.c.map((k, i) => (k / counts.c0[i]).toFixed(3)).join(' / ')}`);
    console.log(`callgrind dumps (callgrind_annotate --inclusive=no <file>): ${CALLGRIND_DIR}`);
    return;
  }
  if (process.env.BENCH_PROFILE) {
    // Profiles of (b) and (c) under the same fixed load, written when they exit: compare them.
    const rate = Number(process.env.BENCH_PROFILE_RATE ?? 2000);
    await autocannon({ url: target.b, headers: auth, connections: CONNECTIONS, duration: DURATION, overallRate: rate });
    await autocannon({ url: target.c, headers: auth, connections: CONNECTIONS, duration: DURATION, overallRate: rate });
    for (const child of [latchkey, bareChild]) {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
    console.log(`profiles of (b) bare.mjs and (c) main.js at ${rate} req/s for ${DURATION} s each written to ${process.env.BENCH_PROFILE}`);
    return;
  }
  if (process.env.BENCH_DIAG) {
    for (const [name, url] of [
      ['healthz', `${publicUrl}/healthz`],
      ['guarded GET /workspaces (no cache)', `${publicUrl}/api/v1/workspaces`],
      ['proxy', target.c],
    ]) {
      const r = await autocannon({ url, headers: auth, connections: CONNECTIONS, duration: 4 });
      console.log(`diag ${name}: ${r.requests.average} req/s p50 ${r.latency.p50} p99 ${r.latency.p99} non2xx ${r.non2xx}`);
    }
  }
  if (process.env.BENCH_RATE) {
    // While working on the proxy: CPU per request of (b), (b2) and (c) at one fixed rate, in
    // BENCH_ROUNDS short alternating rounds. Single figures drift by several µs on a shared VM;
    // the median of (c) minus (b) taken round by round is the steadier number.
    const rate = Number(process.env.BENCH_RATE);
    const rounds = Number(process.env.BENCH_ROUNDS ?? 12);
    const seconds = Number(process.env.BENCH_DURATION ?? 3);
    const names = ['b', 'b2', 'b3', 'c'];
    const runs = { b: [], b2: [], b3: [], c: [] };
    const pids = { b: bareChild.pid, b2: pipeChild.pid, b3: dispatchChild.pid, c: latchkey.pid };
    const measure = async (name) => {
      const r = await withCpu(pids[name], async () => {
        const run = await autocannon({ url: target[name], headers: auth, connections: CONNECTIONS, duration: seconds, overallRate: rate });
        if (run.errors || run.non2xx) throw new Error(`${name}: ${run.errors} errors, ${run.non2xx} non-2xx`);
        return { requests: run.requests.average * seconds };
      });
      return { all: r.cpuMicrosPerRequest, main: r.mainThreadMicrosPerRequest };
    };
    for (let round = 0; round < rounds; round++) {
      for (const name of names) runs[name].push(await measure(name));
    }
    const pick = (name, k) => runs[name].map((r) => r[k]);
    for (const name of names) {
      console.log(`${name}: CPU ${median(pick(name, 'all')).toFixed(1)} µs/request (main thread ${median(pick(name, 'main')).toFixed(1)}), median of ${rounds} rounds at ${rate} req/s`);
    }
    const excess = (k, base = 'b', name = 'c') => median(runs[name].map((r, i) => r[k] - runs[base][i][k])).toFixed(1);
    console.log(`c − b, round by round: median ${excess('all')} µs (main thread ${excess('main')}); c − b3: ${excess('all', 'b3')} µs (main thread ${excess('main', 'b3')})`);
    if (baseline) {
      // This build against the baseline build, both loaded at the same time in each round, so
      // both see the same machine: the steadiest way to see a change of a few µs.
      pids.c0 = baseline.child.pid;
      const ab = { c: [], c0: [] };
      for (let round = 0; round < rounds; round++) {
        const [c, c0] = await Promise.all([measure('c'), measure('c0')]);
        ab.c.push(c);
        ab.c0.push(c0);
      }
      const mid = (name) => median(ab[name].map((r) => r.main)).toFixed(1);
      const diffs = ab.c.map((r, i) => r.main - ab.c0[i].main);
      const diff = median(diffs).toFixed(1);
      console.log(`c − c0 by round: ${diffs.map((d) => d.toFixed(0)).join(' ')} µs`);
      console.log(`side by side at ${rate} req/s each, main thread: c ${mid('c')} µs, c0 (${process.env.BENCH_BASELINE}) ${mid('c0')} µs; c − c0 round by round: median ${diff} µs`);
    }
    return;
  }
  // Peak: BENCH_PEAK_ROUNDS alternating rounds (a, b, b2, b3, c; then b, b2, b3, c, a; …). One peak figure per path
  // swung c/b between 0.78 and 1.10 in three runs of one hour; each figure is the median of its
  // rounds, and the ratios are the medians of the ratios taken round by round.
  const PEAK_ROUNDS = Number(process.env.BENCH_PEAK_ROUNDS ?? 3);
  console.log(`peak load: ${CONNECTIONS} connections, ${DURATION} s each, ${PEAK_ROUNDS} alternating rounds`);
  const peakRounds = { a: [], b: [], b2: [], b3: [], c: [] };
  for (let round = 0; round < PEAK_ROUNDS; round++) {
    for (const name of rotated(Object.keys(peakRounds), round)) peakRounds[name].push(await load(target[name], auth));
  }
  const peak = Object.fromEntries(
    Object.entries(peakRounds).map(([name, rounds]) => [name, { rps: median(rounds.map((r) => r.rps)), p50: median(rounds.map((r) => r.p50)), p99: median(rounds.map((r) => r.p99)) }]),
  );
  const peakRatio = (x, y) => median(peakRounds[x].map((r, i) => r.rps / peakRounds[y][i].rps));
  const halfRate = Math.floor(peak.b.rps / 2);
  console.log(`fixed rate: ${halfRate} req/s (half of the bare pass-through's peak)`);
  // CPU time the serving process spends per request at the same fixed rate (utime + stime).
  const measured = (pid, url) =>
    withCpu(pid, async () => {
      const r = await load(url, auth, { overallRate: halfRate });
      return { ...r, requests: r.rps * DURATION };
    });
  // Three alternating rounds (b, b2, b3, c; then b2, b3, c, b; …); each figure is the median of its rounds, so
  // one unlucky round on the shared cores does not decide the p99 comparison.
  // With BENCH_BASELINE, the baseline build (c0) takes its turn in the half-load rounds too: the
  // p99 of a change and of its baseline, measured in the same run.
  const rounds = { b: [], b2: [], b3: [], c: [], ...(baseline ? { c0: [] } : {}) };
  const servingPid = { b: bareChild.pid, b2: pipeChild.pid, b3: dispatchChild.pid, c: latchkey.pid, c0: baseline?.child.pid };
  for (let round = 0; round < 3; round++) {
    for (const name of rotated(Object.keys(rounds), round)) rounds[name].push(await measured(servingPid[name], target[name]));
  }
  const medianOf = (runs) => Object.fromEntries(Object.keys(runs[0]).map((k) => [k, median(runs.map((r) => r[k]))]));
  const half = {
    ...Object.fromEntries(Object.entries(rounds).map(([name, runs]) => [name, medianOf(runs)])),
    p99Rounds: Object.fromEntries(Object.entries(rounds).filter(([name]) => name !== 'b2').map(([name, runs]) => [name, runs.map((r) => r.p99)])),
  };

  // The same rate at an even pace (paced.mjs), for the p99 the target is about: three alternating
  // rounds of (b), (b3) and (c). For (c), Latchkey's own event-loop delay over each round, from its
  // /metrics (each scrape starts a new measurement): how much of its latency is its own stalls.
  const loopLag = async () => {
    const text = await (await fetch(`${publicUrl}/metrics`)).text();
    const value = (name) => Number(new RegExp(`^latchkey_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1]) * 1000;
    return { p99: value('p99'), max: value('max') };
  };
  const pacedRounds = { b: [], b3: [], c: [], ...(baseline ? { c0: [] } : {}) };
  const pids = { b: bareChild.pid, b3: dispatchChild.pid, c: latchkey.pid, c0: baseline?.child.pid };
  for (let round = 0; round < 3; round++) {
    for (const name of rotated(Object.keys(pacedRounds), round)) {
      if (name === 'c') await loopLag();
      const r = await withCpu(pids[name], async () => {
        const run = await paced({ url: target[name], headers: auth, rate: halfRate, seconds: DURATION, connections: CONNECTIONS });
        if (run.errors) throw new Error(`${name}: ${run.errors} failed requests at an even pace`);
        // The warm-up second is inside the CPU window too: per request over both.
        return { ...run, requests: run.requests + run.warmupRequests };
      });
      const lag = name === 'c' ? await loopLag() : {};
      pacedRounds[name].push({ ...r, ...(name === 'c' ? { loopLagP99: lag.p99, loopLagMax: lag.max } : {}) });
    }
  }
  const even = Object.fromEntries(Object.entries(pacedRounds).map(([name, runs]) => [name, medianOf(runs)]));
  even.rounds = Object.fromEntries(Object.entries(pacedRounds).map(([k, rs]) => [k, rs.map((r) => ({ p50: r.p50, p99: r.p99, p999: r.p999, max: r.max, ...(k === 'c' ? { loopLagP99: r.loopLagP99, loopLagMax: r.loopLagMax } : {}) }))]));

  // 10 MB streaming downloads through (b) and (c), each sampling the serving process's resident
  // memory the same way; one warm-up download each first (JIT, pools), then alternating rounds.
  const downloads = {
    b: { url: `http://127.0.0.1:${barePort}/proxy/download?bytes=${10 * 1024 * 1024}`, pid: bareChild.pid, mbps: [], rssPeak: 0 },
    c: { url: `${publicUrl}/api/v1/proxy/${connectionId}/download?bytes=${10 * 1024 * 1024}`, pid: latchkey.pid, mbps: [], rssPeak: 0 },
  };
  for (const d of Object.values(downloads)) await download(d.url, auth, 2);
  const rssBefore = await rssOf(latchkey.pid);
  const baselineRssBefore = baseline ? await rssOf(baseline.child.pid) : 0;
  for (let round = 0; round < 3; round++) {
    for (const d of Object.values(downloads)) {
      let peakRss = await rssOf(d.pid);
      const sampler = setInterval(async () => (peakRss = Math.max(peakRss, await rssOf(d.pid).catch(() => 0))), 20);
      d.mbps.push((await download(d.url, auth, 10)).mbPerSecond);
      clearInterval(sampler);
      d.rssPeak = Math.max(d.rssPeak, peakRss);
    }
  }
  const streamed = { mbPerSecond: median(downloads.c.mbps) };
  const streamedBare = { mbPerSecond: median(downloads.b.mbps) };
  const rssPeak = downloads.c.rssPeak;

  const results = {
    date: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    peak,
    peakRounds,
    ratio: {
      throughputCoverB: peakRatio('c', 'b'),
      throughputCoverB2: peakRatio('c', 'b2'),
      throughputCoverB3: peakRatio('c', 'b3'),
      throughputBoverA: peakRatio('b', 'a'),
      throughputCoverBRounds: peakRounds.c.map((r, i) => r.rps / peakRounds.b[i].rps),
    },
    halfLoad: { rate: halfRate, ...half, addedP99ms: half.c.p99 - half.b.p99, addedP99msOverB3: half.c.p99 - half.b3.p99 },
    evenPace: { rate: halfRate, ...even, addedP99ms: even.c.p99 - even.b.p99, addedP99msOverB3: even.c.p99 - even.b3.p99 },
    streaming: {
      latchkeyMBps: streamed.mbPerSecond,
      bareMBps: streamedBare.mbPerSecond,
      latchkeyRssBeforeMB: rssBefore / 2 ** 20,
      latchkeyRssPeakMB: rssPeak / 2 ** 20,
    },
  };
  const f = (n) => (typeof n === 'number' ? n.toFixed(n < 10 ? 2 : 0) : n);
  console.log('\n| path | req/s | p50 ms | p99 ms |\n|---|---|---|---|');
  for (const [k, name] of [['a', 'direct'], ['b', 'bare undici pass-through, stream()'], ['b2', 'bare undici pass-through, request() + pipeline'], ['b3', 'bare undici pass-through, dispatch()'], ['c', 'Latchkey']]) {
    console.log(`| (${k}) ${name} | ${f(peak[k].rps)} | ${f(peak[k].p50)} | ${f(peak[k].p99)} |`);
  }
  console.log(
    `\nc/b throughput: ${f(results.ratio.throughputCoverB)}  (target ≥ 0.9; median of ${PEAK_ROUNDS} paired rounds: ${results.ratio.throughputCoverBRounds.map(f).join(' / ')}); ` +
      `c/b2: ${f(results.ratio.throughputCoverB2)}; c/b3: ${f(results.ratio.throughputCoverB3)}; ` +
      `rounds req/s b ${peakRounds.b.map((r) => f(r.rps)).join('/')}, b3 ${peakRounds.b3.map((r) => f(r.rps)).join('/')}, c ${peakRounds.c.map((r) => f(r.rps)).join('/')}`,
  );
  console.log(`at ${halfRate} req/s, autocannon's per-second quota (median of 3 rounds): p99 b ${f(half.b.p99)} ms, b3 ${f(half.b3.p99)} ms, c ${f(half.c.p99)} ms, added over b ${f(results.halfLoad.addedP99ms)} ms (target ≤ 1 ms), over b3 ${f(results.halfLoad.addedP99msOverB3)} ms; rounds b ${half.p99Rounds.b.join('/')}, b3 ${half.p99Rounds.b3.join('/')}, c ${half.p99Rounds.c.join('/')} ms`);
  const f2 = (n) => n.toFixed(2);
  console.log(
    `at ${halfRate} req/s evenly paced (median of 3 rounds): p50 b ${f2(even.b.p50)}, b3 ${f2(even.b3.p50)}, c ${f2(even.c.p50)} ms; ` +
      `p99 b ${f2(even.b.p99)}, b3 ${f2(even.b3.p99)}, c ${f2(even.c.p99)} ms, added over b ${f2(results.evenPace.addedP99ms)} ms (target ≤ 1 ms), over b3 ${f2(results.evenPace.addedP99msOverB3)} ms; ` +
      `rounds p99 b ${even.rounds.b.map((r) => f2(r.p99)).join('/')}, b3 ${even.rounds.b3.map((r) => f2(r.p99)).join('/')}, c ${even.rounds.c.map((r) => f2(r.p99)).join('/')} ms; ` +
      `Latchkey's event-loop delay in its rounds: p99 ${even.rounds.c.map((r) => f2(r.loopLagP99)).join('/')} ms, max ${even.rounds.c.map((r) => f2(r.loopLagMax)).join('/')} ms; ` +
      `main thread ${f(even.b.mainThreadMicrosPerRequest)} / ${f(even.b3.mainThreadMicrosPerRequest)} / ${f(even.c.mainThreadMicrosPerRequest)} µs per request (b / b3 / c)`,
  );
  console.log(
    `CPU per request at that rate: bare ${f(half.b.cpuMicrosPerRequest)} µs (main thread ${f(half.b.mainThreadMicrosPerRequest)}), ` +
      `bare with pipeline ${f(half.b2.cpuMicrosPerRequest)} µs (main thread ${f(half.b2.mainThreadMicrosPerRequest)}), ` +
      `bare with dispatch ${f(half.b3.cpuMicrosPerRequest)} µs (main thread ${f(half.b3.mainThreadMicrosPerRequest)}), ` +
      `Latchkey ${f(half.c.cpuMicrosPerRequest)} µs (main thread ${f(half.c.mainThreadMicrosPerRequest)})`,
  );
  if (baseline) {
    console.log(
      `baseline c0 (${process.env.BENCH_BASELINE}) at ${halfRate} req/s: quota p99 ${f(half.c0.p99)} ms (rounds ${half.p99Rounds.c0.join('/')}) against c ${f(half.c.p99)}; ` +
        `evenly paced p99 ${f2(even.c0.p99)} ms (rounds ${even.rounds.c0.map((r) => f2(r.p99)).join('/')}) against c ${f2(even.c.p99)}; ` +
        `CPU per request ${f(half.c0.cpuMicrosPerRequest)} µs against c ${f(half.c.cpuMicrosPerRequest)}; ` +
        `resident memory after the loaded rounds ${f(baselineRssBefore / 2 ** 20)} MB against c ${f(rssBefore / 2 ** 20)} MB`,
    );
  }
  console.log(`10 MB downloads (median of 3 rounds of 10): Latchkey ${f(streamed.mbPerSecond)} MB/s, bare ${f(streamedBare.mbPerSecond)} MB/s; Latchkey RSS ${f(rssBefore / 2 ** 20)} → peak ${f(rssPeak / 2 ** 20)} MB`);
  console.log(`\nJSON: ${JSON.stringify(results)}`);
  await ds.destroy();
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    for (const fn of cleanup) await fn().catch(() => undefined);
  });
