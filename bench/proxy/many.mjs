// Many connections: COUNT connections of one integration seeded straight into the database, calls
// spread uniformly at random over all of them, so Latchkey serves from a connection cache of
// COUNT entries rather than one. The bare pass-through (b) gets the same random paths and simply
// passes them on. Reported: c/b throughput as the median of paired alternating rounds, and what
// each cached connection costs Latchkey in memory (live heap, and resident memory, after all
// COUNT have been touched once, less before; both after forced full collections).
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { cannon, f, pairedRatio, rotated, rssOf } from './measure.mjs';
import { randomAccessToken, seedConnections } from './seed.mjs';

const API_PATH = '/services/data/v62.0/query';

/** Latchkey's live heap and resident memory, after full collections (settle-on-signal.mjs). */
async function settled(pid, publicUrl) {
  process.kill(pid, 'SIGUSR2');
  await sleep(1000);
  const text = await (await fetch(`${publicUrl}/metrics`)).text();
  const heap = Number(/^latchkey_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1]);
  return { heap, rss: await rssOf(pid) };
}

/** One GET of every path, `concurrency` at a time. */
async function touchAll(origin, paths, headers, concurrency) {
  const pool = new Pool(origin, { connections: concurrency, keepAliveTimeout: 60_000 });
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++];
      const res = await pool.request({ path, method: 'GET', headers });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`GET ${origin}${path}: ${res.statusCode}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.close();
  }
}

export async function many(
  { ds, keySpec, integration, ports, publicUrl, auth, pids },
  { count, duration, connections, rounds },
) {
  const seedStart = Date.now();
  const ids = await seedConnections(ds, keySpec, integration, {
    count,
    accessToken: randomAccessToken,
  });
  console.log(
    `many connections: ${count} seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s; ${connections} callers, ${duration} s each, ${rounds} paired rounds`,
  );
  const paths = {
    b: { origin: `http://127.0.0.1:${ports.b}`, prefix: '/proxy/' },
    c: { origin: publicUrl, prefix: '/api/v1/proxy/' },
  };

  const before = await settled(pids.c, publicUrl);
  const warmStart = Date.now();
  for (const name of ['b', 'c']) {
    const { origin, prefix } = paths[name];
    await touchAll(
      origin,
      ids.map((id) => `${prefix}${id}${API_PATH}`),
      auth,
      connections,
    );
  }
  const warmSeconds = (Date.now() - warmStart) / 1000;
  const after = await settled(pids.c, publicUrl);
  const heapPerConnection = (after.heap - before.heap) / count;
  const rssPerConnection = (after.rss - before.rss) / count;

  const randomLoad = async (name) => {
    const { origin, prefix } = paths[name];
    const setupRequest = (req) => ({
      ...req,
      path: `${prefix}${ids[Math.floor(Math.random() * ids.length)]}${API_PATH}`,
    });
    const r = await cannon(`${name} (many)`, {
      url: `${origin}${prefix}${ids[0]}${API_PATH}`,
      headers: auth,
      connections,
      duration,
      requests: [{ setupRequest }],
    });
    return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
  };
  const byRound = { b: [], c: [] };
  for (let round = 0; round < rounds; round++) {
    for (const name of rotated(Object.keys(byRound), round))
      byRound[name].push(await randomLoad(name));
  }
  const coverB = pairedRatio(byRound.c, byRound.b, (r) => r.rps);

  console.log(
    `many connections: warm-up touched each of ${count} once through b and c in ${warmSeconds.toFixed(1)} s`,
  );
  console.log(
    `many connections: Latchkey heap used after a full collection ${f(before.heap / 2 ** 20)} → ${f(after.heap / 2 ** 20)} MB, ` +
      `resident ${f(before.rss / 2 ** 20)} → ${f(after.rss / 2 ** 20)} MB`,
  );
  console.log(
    `many connections: rounds req/s b ${byRound.b.map((r) => f(r.rps)).join('/')}, c ${byRound.c.map((r) => f(r.rps)).join('/')}; ` +
      `p99 b ${byRound.b.map((r) => r.p99).join('/')}, c ${byRound.c.map((r) => r.p99).join('/')} ms`,
  );
  return {
    count,
    coverB,
    heapPerConnection,
    rssPerConnection,
    heapBefore: before.heap,
    heapAfter: after.heap,
    rssBefore: before.rss,
    rssAfter: after.rss,
    rounds: byRound,
  };
}
