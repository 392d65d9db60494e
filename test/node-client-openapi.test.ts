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
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { paths } from '../packages/node/src/generated/openapi.js';
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

/** The 200 body the generated client types for a route (`npm run typecheck` checks these). */
type Ok<P extends keyof paths, M extends 'get' | 'post'> = paths[P][M] extends {
  responses: { 200: { content: { 'application/json': infer B } } };
}
  ? B
  : never;

describe('the OpenAPI document', () => {
  interface Schema {
    $ref?: string;
    required?: string[];
    properties?: Record<string, { type?: string; enum?: string[] }>;
  }
  async function okSchema(route: string, method: string): Promise<Schema> {
    const document = (await (await fetch(`${t.url}/api/docs-json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>>;
      components: { schemas: Record<string, Schema> };
    };
    const content = document.paths[route]?.[method]?.responses['200']?.content as
      { 'application/json': { schema: Schema } } | undefined;
    const schema = content?.['application/json'].schema ?? {};
    return schema.$ref ? document.components.schemas[schema.$ref.split('/').pop()!] : schema;
  }

  it('describes the answer of the token endpoint (RFC 6749 names) and of the access-token handout', async () => {
    const token = await okSchema('/api/v1/oauth/token', 'post');
    expect(token.required).toEqual(['access_token', 'token_type', 'expires_in', 'scope']);
    expect(token.properties?.token_type.enum).toEqual(['Bearer']);
    expectTypeOf<Ok<'/api/v1/oauth/token', 'post'>['access_token']>().toEqualTypeOf<string>();
    expectTypeOf<Ok<'/api/v1/oauth/token', 'post'>['expires_in']>().toEqualTypeOf<number>();

    const handout = await okSchema('/api/v1/connections/{id}/access-token', 'get');
    expect(handout.required).toEqual(['accessToken', 'tokenType', 'expiresAt', 'instanceUrl']);
    expect(Object.keys(handout.properties ?? {})).toContain('credentials');
    type Handout = Ok<'/api/v1/connections/{id}/access-token', 'get'>;
    expectTypeOf<Handout['accessToken']>().toEqualTypeOf<string>();
    expectTypeOf<Handout['expiresAt']>().toEqualTypeOf<string | null>();
  });
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
