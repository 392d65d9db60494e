// Proxy benchmark: (a) direct to a local upstream, (b) through a bare undici pass-through
// (b2, b3: the same with other undici APIs), (c) through Latchkey with a real connection, (ct)
// the same with an offering whose template injects two headers from placeholders.
// Run with `npm run bench:proxy` (builds first); docs/benchmarks.md describes every mode and
// variable. Every server runs in its own process; the load generators run here. Loopback only;
// stops by itself.
//
// This file reads the environment, starts the servers and runs the chosen modes: peak.mjs,
// half-load.mjs, streaming.mjs and many.mjs make the report (BENCH_MODE picks some of them);
// profiling.mjs holds the modes for work on the proxy itself, which replace the report.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { createLogger } from '../../dist/src/common/logging/logger.js';
import { halfLoad } from './half-load.mjs';
import { load } from './measure.mjs';
import { many } from './many.mjs';
import { peak } from './peak.mjs';
import { ROOT, forkServer, freePort, startLatchkey, stopAll } from './processes.mjs';
import { diag, hold, instructions, profile, rateSideBySide } from './profiling.mjs';
import { apiClient, createIntegration, seedConnections, startDatabase } from './seed.mjs';
import { streaming } from './streaming.mjs';

const env = process.env;
const words = (value) => value?.split(/[\s,]+/).filter(Boolean);
const DURATION = Number(env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 32);
const PEAK_ROUNDS = Number(env.BENCH_PEAK_ROUNDS ?? 3);
const MODES = ['peak', 'half', 'streaming', 'many'];
const modes = words(env.BENCH_MODE) ?? MODES;
for (const mode of modes)
  if (!MODES.includes(mode))
    throw new Error(`BENCH_MODE: unknown mode ${mode} (known: ${MODES.join(', ')})`);
const MANY = Number(env.BENCH_MANY_CONNECTIONS ?? 10_000);
const TARGETS = { throughput: 0.85, cpu: 1.3, manyThroughput: 0.85, bytesPerConnection: 4096 };

// BENCH_INSTRUCTIONS=N runs (b) and (c) under valgrind's callgrind; BENCH_WRAP under any other program.
const INSTRUCTIONS = Number(env.BENCH_INSTRUCTIONS ?? 0);
const CALLGRIND_DIR = INSTRUCTIONS ? await mkdtemp(path.join(tmpdir(), 'latchkey-callgrind-')) : '';
const WRAP = INSTRUCTIONS
  ? [
      'valgrind',
      '--tool=callgrind',
      '--instr-atstart=no',
      '--separate-threads=yes',
      '--smc-check=all-non-file',
      `--callgrind-out-file=${CALLGRIND_DIR}/cg.%p.out`,
    ]
  : (words(env.BENCH_WRAP) ?? []);
// Extra node flags for (b) and (c): a CPU profile each, and/or BENCH_NODE_FLAGS (e.g. --perf-basic-prof).
const PROFILE_FLAGS = [
  ...(env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${env.BENCH_PROFILE}`] : []),
  ...(words(env.BENCH_NODE_FLAGS) ?? []),
];

async function main() {
  const { ds, url: dbUrl } = await startDatabase(createLogger('warn'));

  const { port: upPort } = await forkServer('upstream.mjs');
  const upstream = `http://127.0.0.1:${upPort}`;
  const bare = (mode, flags = [], wrap = []) =>
    forkServer('bare.mjs', { UPSTREAM: upstream, BARE_MODE: mode }, flags, wrap);
  const b = await bare('stream', PROFILE_FLAGS, WRAP);
  const b2 = await bare('pipeline');
  const b3 = await bare('dispatch', PROFILE_FLAGS, WRAP);

  // A Latchkey process: this build's dist/src/main.js, or another build's (BENCH_BASELINE) as a
  // second replica on the same database, so a change can be compared with its baseline in one run.
  // Replicas share one PUBLIC_URL (the token issuer), as they would behind a load balancer.
  const keySpec = `bench:${randomBytes(32).toString('base64')}`;
  const bootstrap = { id: 'bench-bootstrap', secret: randomBytes(24).toString('hex') };
  const firstPort = await freePort();
  const latchkeyEnv = {
    NODE_ENV: 'test',
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
  };
  // Every Latchkey runs with the node flags of `npm start` (package.json), as users run it;
  // BENCH_LATCHKEY_NODE_FLAGS adds flags for this build's Latchkey only (not a baseline), and
  // BENCH_BASELINE_START_FLAGS replaces npm start's flags for the baseline alone, to compare a
  // change of those flags with the flags before it.
  const startFlags = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'))
    .scripts.start.split(/\s+/)
    .filter((a) => a.startsWith('--'));
  const ownFlags = words(env.BENCH_LATCHKEY_NODE_FLAGS) ?? [];
  // BENCH_LATCHKEY_MAIN measures another build as (c), e.g. to compare peak figures across builds.
  const latchkeyMain = env.BENCH_LATCHKEY_MAIN
    ? path.resolve(env.BENCH_LATCHKEY_MAIN)
    : path.join(ROOT, 'dist/src/main.js');
  const latchkey = await startLatchkey({
    main: latchkeyMain,
    port: firstPort,
    flags: [...startFlags, ...PROFILE_FLAGS, ...ownFlags],
    env: latchkeyEnv,
    wrap: WRAP,
  });
  const baseline = env.BENCH_BASELINE
    ? {
        main: env.BENCH_BASELINE,
        ...(await startLatchkey({
          main: path.resolve(env.BENCH_BASELINE),
          port: await freePort(),
          flags: [...(words(env.BENCH_BASELINE_START_FLAGS) ?? startFlags), ...PROFILE_FLAGS],
          env: latchkeyEnv,
          wrap: WRAP,
        })),
      }
    : undefined;

  // A real connection whose API base is the same upstream the others use.
  const api = await apiClient(latchkey.publicUrl, bootstrap);
  const integration = await createIntegration(api, upstream);
  const [connectionId] = await seedConnections(ds, keySpec, integration, {
    count: 1,
    accessToken: () => 'bench-access-token',
  });
  // (ct): the same upstream through an offering whose template injects two headers from
  // placeholders, the token and a tenant id from the connection's metadata.
  const templated = await createIntegration(api, upstream, {
    key: 'bench-template',
    ds,
    template: {
      proxyHeaders: { Authorization: 'Bearer [[accessToken]]', 'X-Tenant': '[[tenantId]]' },
    },
  });
  const [templatedId] = await seedConnections(ds, keySpec, templated, {
    count: 1,
    accessToken: () => 'bench-access-token',
    metadata: { tenantId: 'bench-tenant-7' },
  });
  const echoed = await fetch(
    `${latchkey.publicUrl}/api/v1/proxy/${templatedId}/services/echo-headers`,
    { headers: { authorization: `Bearer ${api.token}` } },
  ).then((r) => r.json());
  if (
    echoed.authorization !== 'Bearer bench-access-token' ||
    echoed['x-tenant'] !== 'bench-tenant-7'
  )
    throw new Error(`(ct) did not send the template's headers: ${JSON.stringify(echoed)}`);

  const query = '/services/data/v62.0/query';
  const ctx = {
    ds,
    keySpec,
    integration,
    connectionId,
    baseline,
    publicUrl: latchkey.publicUrl,
    auth: { authorization: `Bearer ${api.token}` },
    ports: { b: b.port },
    children: { b: b.child, c: latchkey.child },
    pids: {
      b: b.child.pid,
      b2: b2.child.pid,
      b3: b3.child.pid,
      c: latchkey.child.pid,
      c0: baseline?.child.pid,
    },
    target: {
      a: `${upstream}${query}`,
      b: `http://127.0.0.1:${b.port}/proxy${query}`,
      b2: `http://127.0.0.1:${b2.port}/proxy${query}`,
      b3: `http://127.0.0.1:${b3.port}/proxy${query}`,
      c: `${latchkey.publicUrl}/api/v1/proxy/${connectionId}${query}`,
      ct: `${latchkey.publicUrl}/api/v1/proxy/${templatedId}${query}`,
      ...(baseline ? { c0: `${baseline.publicUrl}/api/v1/proxy/${connectionId}${query}` } : {}),
    },
  };
  // Warm up every path (connection caches, keep-alive pools, JIT).
  for (const url of Object.values(ctx.target))
    await autocannon({ url, headers: ctx.auth, connections: 8, duration: 2 });

  const shape = { duration: DURATION, connections: CONNECTIONS };
  if (env.BENCH_HOLD) return hold(ctx);
  if (INSTRUCTIONS)
    return instructions(ctx, {
      requests: INSTRUCTIONS,
      pacedRate: Number(env.BENCH_INSTRUCTIONS_RATE ?? 0),
      connections: CONNECTIONS,
      callgrindDir: CALLGRIND_DIR,
    });
  if (env.BENCH_PROFILE)
    return profile(ctx, {
      ...shape,
      dir: env.BENCH_PROFILE,
      rate: Number(env.BENCH_PROFILE_RATE ?? 2000),
    });
  if (env.BENCH_DIAG) await diag(ctx, shape);
  // BENCH_RATE's rounds are short by default: BENCH_DURATION defaults to 3 s there.
  if (env.BENCH_RATE)
    return rateSideBySide(ctx, {
      rate: Number(env.BENCH_RATE),
      rounds: Number(env.BENCH_ROUNDS ?? 12),
      duration: Number(env.BENCH_DURATION ?? 3),
      connections: CONNECTIONS,
    });

  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    modes,
  };
  if (modes.includes('peak')) results.peak = await peak(ctx, { ...shape, rounds: PEAK_ROUNDS });
  if (modes.includes('half')) {
    // Half of (b)'s peak; without the peak mode, from one peak round of (b) alone.
    const bPeak = results.peak?.b.rps ?? (await load(ctx.target.b, ctx.auth, shape)).rps;
    results.halfLoad = await halfLoad(ctx, { ...shape, rate: Math.floor(bPeak / 2) });
  }
  if (modes.includes('streaming')) results.streaming = await streaming(ctx);
  if (modes.includes('many')) {
    // Its own Latchkey on the same database, able to force full collections (to measure the live
    // heap), so that the other modes measure a process with npm start's flags only.
    const measured = await startLatchkey({
      main: latchkeyMain,
      port: await freePort(),
      flags: [
        ...startFlags,
        ...ownFlags,
        '--expose-gc',
        '--import',
        pathToFileURL(path.join(ROOT, 'bench/proxy/settle-on-signal.mjs')).href,
      ],
      env: latchkeyEnv,
    });
    // Warm, like the others, before its memory is taken as the starting point.
    await autocannon({
      url: `${measured.publicUrl}/api/v1/proxy/${connectionId}${query}`,
      headers: ctx.auth,
      connections: 8,
      duration: 2,
    });
    results.many = await many(
      { ...ctx, publicUrl: measured.publicUrl, pids: { ...ctx.pids, c: measured.child.pid } },
      { ...shape, rounds: PEAK_ROUNDS, count: MANY },
    );
  }
  summary(results);
  console.log(`\nJSON: ${JSON.stringify(results)}`);
}

/** The figures the targets are about, each beside its target. */
function summary({ peak, halfLoad, many }) {
  const fixed = (n, digits = 2) => n.toFixed(digits);
  const verdict = (ok) => (ok ? 'meets the target' : 'MISSES the target');
  console.log('\nSummary');
  if (peak) {
    const r = peak.coverB;
    console.log(
      `  throughput c/b (median of paired rounds): ${fixed(r.median)} (target ≥ ${TARGETS.throughput}: ${verdict(r.median >= TARGETS.throughput)}); rounds ${r.rounds.map((x) => fixed(x)).join(' / ')}`,
    );
    const t = peak.templateCoverB;
    console.log(
      `  template headers ct/b (two headers from placeholders): ${fixed(t.median)} (target ≥ ${TARGETS.throughput}: ${verdict(t.median >= TARGETS.throughput)}); rounds ${t.rounds.map((x) => fixed(x)).join(' / ')}`,
    );
  }
  if (halfLoad) {
    const r = halfLoad.cpuCoverB;
    const { b, c } = halfLoad.quota;
    console.log(
      `  CPU per call c/b: ${fixed(r.median)} (target ≤ ${TARGETS.cpu}: ${verdict(r.median <= TARGETS.cpu)}); Latchkey ${fixed(c.cpuMicrosPerRequest, 1)} µs, bare ${fixed(b.cpuMicrosPerRequest, 1)} µs per call ` +
        `at ${halfLoad.rate} req/s, median of paired rounds ${r.rounds.map((x) => fixed(x)).join(' / ')}`,
    );
    console.log(
      `  half-load p99 at ${halfLoad.rate} req/s: autocannon quota b ${b.p99} ms, c ${c.p99} ms; evenly paced b ${fixed(halfLoad.evenPace.b.p99)} ms, c ${fixed(halfLoad.evenPace.c.p99)} ms`,
    );
  }
  if (many) {
    const r = many.coverB;
    const bytes = Math.round(many.heapPerConnection);
    console.log(
      `  many connections (${many.count}): throughput c/b (median of paired rounds) ${fixed(r.median)} (target ≥ ${TARGETS.manyThroughput}: ${verdict(r.median >= TARGETS.manyThroughput)}); rounds ${r.rounds.map((x) => fixed(x)).join(' / ')}`,
    );
    console.log(
      `  memory per cached connection: ${bytes} bytes of live heap (target ≤ 4 KB: ${verdict(bytes <= TARGETS.bytesPerConnection)}); resident memory ${Math.round(many.rssPerConnection)} bytes`,
    );
  }
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(stopAll);
