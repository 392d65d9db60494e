// The Node client's generated files (packages/node) against the API the app really serves: the
// committed openapi.json must be the app's /api/docs-json, and the committed types must be what
// openapi-typescript makes of it. `npm run client:generate` rewrites both when the API changes.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

const PACKAGE_DIR = fileURLToPath(new URL('../packages/node/', import.meta.url));
const DOCUMENT_FILE = path.join(PACKAGE_DIR, 'openapi.json');
const TYPES_FILE = path.join(PACKAGE_DIR, 'src/generated/openapi.ts');
/** Set by `npm run client:generate`: write the files instead of comparing them. */
const WRITE = process.env.LATCHKEY_WRITE_CLIENT === '1';

const generator = path.join(
  path.dirname(createRequire(import.meta.url).resolve('openapi-typescript/package.json')),
  'bin/cli.js',
);

/** The package's own `generate` script (its options as written there), run on `document` into `output`. */
async function generateTypes(document: string, output: string): Promise<void> {
  const manifest = JSON.parse(await readFile(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
    scripts: { generate: string };
  };
  const [command, input, ...options] = manifest.scripts.generate.split(/\s+/);
  expect([command, input, options.at(-2)]).toEqual(['openapi-typescript', 'openapi.json', '-o']);
  const args = [generator, document, ...options.slice(0, -1), output];
  await promisify(execFile)(process.execPath, args, { cwd: PACKAGE_DIR });
}

let t: TestApp;
let tmp: string;
beforeAll(async () => {
  t = await createTestApp();
  tmp = await mkdtemp(path.join(tmpdir(), 'latchkey-node-client-'));
});
afterAll(async () => {
  await t?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('@latchkey/node', () => {
  it("commits the app's OpenAPI document as it serves it", async () => {
    const res = await fetch(`${t.url}/api/docs-json`);
    expect(res.status).toBe(200);
    const live = `${JSON.stringify(await res.json(), null, 2)}\n`;
    if (WRITE) await writeFile(DOCUMENT_FILE, live);
    // On failure: the API changed; run `npm run client:generate` and commit the result.
    expect(await readFile(DOCUMENT_FILE, 'utf8')).toBe(live);
  });

  it('commits the types openapi-typescript generates from that document', async () => {
    if (WRITE) await generateTypes(DOCUMENT_FILE, TYPES_FILE);
    const fresh = path.join(tmp, 'openapi.ts');
    await generateTypes(DOCUMENT_FILE, fresh);
    // On failure: the generated types were edited by hand or are stale; `npm run client:generate`.
    expect(await readFile(TYPES_FILE, 'utf8')).toBe(await readFile(fresh, 'utf8'));
  });
});
