// Peak throughput: every path as fast as CONNECTIONS closed-loop callers can drive it, in
// alternating rounds ((a), (b), (b2), (b3), (c), (ct); then (b), (b2), (b3), (c), (ct), (a); …). One peak
// figure per path swung c/b between 0.78 and 1.10 in three runs of one hour on a shared VM, so
// each figure is the median of its rounds, and each ratio the median of the ratios taken round
// by round (both paths of a ratio ran within seconds of each other).
import { f, load, median, pairedRatio, rotated } from './measure.mjs';

const PATHS = [
  ['a', 'direct'],
  ['b', 'bare undici pass-through, stream()'],
  ['b2', 'bare undici pass-through, request() + pipeline'],
  ['b3', 'bare undici pass-through, dispatch()'],
  ['c', 'Latchkey'],
  ['ct', 'Latchkey, two template headers from placeholders'],
];

export async function peak({ target, auth }, { duration, connections, rounds }) {
  console.log(
    `peak load: ${connections} connections, ${duration} s each, ${rounds} alternating rounds`,
  );
  const byRound = Object.fromEntries(PATHS.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of rotated(Object.keys(byRound), round))
      byRound[name].push(await load(target[name], auth, { connections, duration }));
  }
  const figures = Object.fromEntries(
    Object.entries(byRound).map(([name, runs]) => [
      name,
      {
        rps: median(runs.map((r) => r.rps)),
        p50: median(runs.map((r) => r.p50)),
        p99: median(runs.map((r) => r.p99)),
      },
    ]),
  );
  const ratio = (x, y) => pairedRatio(byRound[x], byRound[y], (r) => r.rps);
  const result = {
    ...figures,
    rounds: byRound,
    coverB: ratio('c', 'b'),
    templateCoverB: ratio('ct', 'b'),
    coverB2: ratio('c', 'b2').median,
    coverB3: ratio('c', 'b3').median,
    boverA: ratio('b', 'a').median,
  };

  console.log('\n| path | req/s | p50 ms | p99 ms |\n|---|---|---|---|');
  for (const [k, name] of PATHS)
    console.log(
      `| (${k}) ${name} | ${f(figures[k].rps)} | ${f(figures[k].p50)} | ${f(figures[k].p99)} |`,
    );
  console.log(
    `\nc/b throughput: ${f(result.coverB.median)} (median of ${rounds} paired rounds: ${result.coverB.rounds.map(f).join(' / ')}); ` +
      `ct/b: ${f(result.templateCoverB.median)} (${result.templateCoverB.rounds.map(f).join(' / ')}); ` +
      `c/b2: ${f(result.coverB2)}; c/b3: ${f(result.coverB3)}; ` +
      `rounds req/s b ${byRound.b.map((r) => f(r.rps)).join('/')}, b3 ${byRound.b3.map((r) => f(r.rps)).join('/')}, c ${byRound.c.map((r) => f(r.rps)).join('/')}`,
  );
  return result;
}
