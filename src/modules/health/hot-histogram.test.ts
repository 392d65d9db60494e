import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotHistogram } from './hot-histogram.js';

describe(HotHistogram.name, () => {
  const buckets = [0.001, 0.01, 0.1, 1];

  it('exports exactly what a prom-client Histogram exports for the same values, in text and JSON', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const hot = new HotHistogram('latchkey_test_seconds', 'Test timings', buckets, ours);
    const reference = new Histogram({ name: 'latchkey_test_seconds', help: 'Test timings', buckets, registers: [theirs] });
    // On a bound, between bounds, below the first, above the last, zero.
    for (const v of [0.001, 0.0005, 0.005, 0.01, 0.5, 1, 7.25, 0, 0.0999]) {
      hot.observe(v);
      reference.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // prom-client adds an empty `exemplar` to each value; exemplars are not used here.
    const withoutExemplars = JSON.parse(JSON.stringify(await theirs.getMetricsAsJSON(), (k, v: unknown) => (k === 'exemplar' ? undefined : v)));
    expect(await ours.getMetricsAsJSON()).toEqual(withoutExemplars);
  });

  it('exports zero counts before any value, like prom-client', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    new HotHistogram('latchkey_idle_seconds', 'Idle', buckets, ours);
    new Histogram({ name: 'latchkey_idle_seconds', help: 'Idle', buckets, registers: [theirs] });
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
