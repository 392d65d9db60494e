import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

/** Console tests in a real Chromium (`npm run test:browser`); kept out of `npm test`. */
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  // As in vitest.config.ts: the Node client (the demo uses it) from its sources, unbuilt.
  ssr: {
    resolve: { conditions: ['latchkey-source', 'module', 'node', 'development|production'] },
  },
  test: {
    include: ['test/browser/**/*.browser.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One browser at a time: Chromium is heavy and the machines running this are small.
    fileParallelism: false,
  },
});
