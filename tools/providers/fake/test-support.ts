import { afterEach } from 'vitest';
import type { FakeProviderFixture } from './fixture.js';
import { startFakeProvider, type FakeProvider } from './fake-provider.js';

/**
 * What every fixture test needs: a clock it moves by hand, fakes closed after each test, and
 * HTTP Basic credentials.
 */

export function manualClock(start = Date.UTC(2030, 0, 1)) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** A starter for `fixture`'s fake on a manual clock; every fake it starts closes after each test. */
export function fakeStarter(fixture: FakeProviderFixture) {
  const running: FakeProvider[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.close()));
  });
  return async (clock = manualClock()) => {
    const fake = await startFakeProvider(fixture, { now: clock.now });
    running.push(fake);
    return fake;
  };
}

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
