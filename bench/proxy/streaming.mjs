// 10 MB streaming downloads through (b) and (c), sampling each serving process's resident memory
// every 20 ms: bodies must stream, not buffer. One warm-up download each first (JIT, pools), then
// alternating rounds of ten downloads; figures are medians of the rounds.
import { f, median, rssOf } from './measure.mjs';

const BYTES = 10 * 1024 * 1024;
const ROUNDS = 3;

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

export async function streaming({ ports, publicUrl, connectionId, auth, pids, baseline }) {
  const downloads = {
    b: {
      url: `http://127.0.0.1:${ports.b}/proxy/download?bytes=${BYTES}`,
      pid: pids.b,
      mbps: [],
      rssPeak: 0,
    },
    c: {
      url: `${publicUrl}/api/v1/proxy/${connectionId}/download?bytes=${BYTES}`,
      pid: pids.c,
      mbps: [],
      rssPeak: 0,
    },
  };
  for (const d of Object.values(downloads)) await download(d.url, auth, 2);
  const rssBefore = await rssOf(pids.c);
  const baselineRssBefore = baseline ? await rssOf(pids.c0) : 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const d of Object.values(downloads)) {
      let peakRss = await rssOf(d.pid);
      const sampler = setInterval(
        async () => (peakRss = Math.max(peakRss, await rssOf(d.pid).catch(() => 0))),
        20,
      );
      d.mbps.push((await download(d.url, auth, 10)).mbPerSecond);
      clearInterval(sampler);
      d.rssPeak = Math.max(d.rssPeak, peakRss);
    }
  }
  const result = {
    latchkeyMBps: median(downloads.c.mbps),
    bareMBps: median(downloads.b.mbps),
    latchkeyRssBeforeMB: rssBefore / 2 ** 20,
    latchkeyRssPeakMB: downloads.c.rssPeak / 2 ** 20,
    ...(baseline ? { baselineRssBeforeMB: baselineRssBefore / 2 ** 20 } : {}),
  };
  console.log(
    `10 MB downloads (median of ${ROUNDS} rounds of 10): Latchkey ${f(result.latchkeyMBps)} MB/s, bare ${f(result.bareMBps)} MB/s; ` +
      `Latchkey RSS ${f(result.latchkeyRssBeforeMB)} → peak ${f(result.latchkeyRssPeakMB)} MB` +
      (baseline
        ? `; baseline c0 RSS before the downloads ${f(result.baselineRssBeforeMB)} MB`
        : ''),
  );
  return result;
}
