// Runs the built CLI (npm test's pretest builds dist/). Fails, never skips, when dist/ is missing.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCatalog } from '../src/modules/offerings/offering-catalog.service.js';
import { renderProvidersDoc } from '../src/modules/offerings/providers-doc.js';
import { assertBuilt, runBuilt } from './support/process.js';

const CLI = 'dist/src/cli.js';

describe('cli docs:providers', () => {
  let dir: string;
  beforeAll(async () => {
    assertBuilt(CLI);
    dir = await mkdtemp(path.join(tmpdir(), 'latchkey-docs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the providers table from the catalog files, with no configuration and no database', async () => {
    const file = path.join(dir, 'providers.md');
    const res = await runBuilt(CLI, ['docs:providers', file], { PATH: process.env.PATH });
    expect(res.code).toBe(0);
    const catalog = await readCatalog();
    expect(res.stdout).toContain(`(${catalog.length} offerings)`);
    expect(await readFile(file, 'utf8')).toBe(renderProvidersDoc(catalog));
  });
});
