import swc from 'unplugin-swc';
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // SWC instead of esbuild: NestJS and TypeORM need emitted decorator metadata.
  plugins: [swc.vite({ module: { type: 'es6' } })],
  // The Node client (packages/node) is tested from its sources, as the type check reads it; the
  // rest are Vite's default server conditions.
  ssr: {
    resolve: { conditions: ['latchkey-source', 'module', 'node', 'development|production'] },
  },
  test: {
    include: [
      'src/**/*.test.ts',
      'test/**/*.test.ts',
      'tools/**/*.test.ts',
      'packages/*/src/**/*.test.ts',
    ],
    // Real-browser tests run with `npm run test:browser` (vitest.browser.config.ts).
    exclude: ['**/node_modules/**', 'test/browser/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Test files share each worker's modules instead of loading the application anew per file,
    // which halves the suite's time (SWC transforms and Nest's imports were most of it). What
    // that asks of a test file: no module mocks (they cannot reach modules another file already
    // loaded; count through public hooks instead, see token-endpoint.e2e), no process-wide
    // listeners or stubs left behind, and spies restored, which Vitest does before every test.
    isolate: false,
    restoreMocks: true,
    // The tests wait on PostgreSQL and loopback HTTP more than they compute: two files at a time
    // even on 2 cores (Vitest's default there is one), which brings the suite well under 5 minutes.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
