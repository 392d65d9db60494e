// Runs Node itself (V8's natives syntax and gc() are process flags), on the built module: needs
// dist/, which `npm test` builds in its pretest step.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { keepNextTickShapes } from './next-tick-shapes.js';

const BUILT = fileURLToPath(new URL('../../../dist/src/common/runtime/next-tick-shapes.js', import.meta.url));

/**
 * A process that warms `process.nextTick` up, optionally keeps the shapes, then runs full
 * collections while no task is queued (an idle server's GC), calls `nextTick` again and prints
 * the feedback of the definitions that build a task object, and any V8 protector it turned off.
 */
async function afterIdleCollections(keep: boolean): Promise<{ slots: string[]; stdout: string }> {
  const script = `
    import { keepNextTickShapes } from ${JSON.stringify(pathToFileURL(BUILT).href)};
    const spin = (n, done) => (n === 0 ? done() : process.nextTick(spin, n - 1, done));
    spin(20000, () => {
      if (${keep}) keepNextTickShapes();
      setTimeout(() => {
        for (let i = 0; i < 4; i++) gc();
        setTimeout(() => spin(100, () => setTimeout(() => %DebugPrint(process.nextTick), 10)), 10);
      }, 10);
    });`;
  const flags = ['--allow-natives-syntax', '--expose-gc', '--trace-protector-invalidation', '--input-type=module'];
  const { stdout } = await promisify(execFile)(process.execPath, [...flags, '-e', script], { maxBuffer: 16 * 1024 * 1024 });
  return { slots: [...stdout.matchAll(/slot #\d+ DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1]), stdout };
}

describe(keepNextTickShapes.name, () => {
  it('is built (run `npm run build` before running this file alone)', () => {
    expect(existsSync(BUILT)).toBe(true);
  });

  it("keeps nextTick's task literal on V8's fast path through full collections with no task queued", async () => {
    // Without it, those collections free the task shapes and the literal's definitions go megamorphic.
    const unkept = await afterIdleCollections(false);
    expect(unkept.slots).toContain('MEGAMORPHIC');
    const kept = await afterIdleCollections(true);
    expect(kept.slots).toHaveLength(4);
    expect(kept.slots.every((state) => state === 'MONOMORPHIC')).toBe(true);
  });

  it("turns none of V8's fast paths off (an async hook would turn off its promise fast paths)", async () => {
    const { stdout } = await afterIdleCollections(true);
    expect(stdout).not.toContain('Invalidating protector cell');
  });
});
