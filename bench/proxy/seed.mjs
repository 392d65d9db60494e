// The data the benchmark proxies through: a database (embedded unless DATABASE_URL is set), an
// offering and integration created through Latchkey's API, and connections written straight into
// the table with credentials encrypted by this build's KeyRing, as Latchkey itself stores them.
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KeyRing } from '../../dist/src/common/crypto/key-ring.js';
import { createDataSource, migrate } from '../../dist/src/database/data-source.js';
import { startEmbeddedPostgres } from '../../dist/src/database/embedded-postgres.js';
import { atExit, freePort } from './processes.mjs';

/** A migrated database: DATABASE_URL's, or an embedded PostgreSQL in a temporary directory. */
export async function startDatabase(logger, url = process.env.DATABASE_URL) {
  let embedded;
  if (!url) {
    const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-bench-'));
    await chmod(dir, 0o711);
    embedded = await startEmbeddedPostgres({
      dataDir: dir,
      port: await freePort(),
      database: 'latchkey_bench',
      logger,
    });
    embedded.dir = dir;
    url = embedded.url;
  }
  const ds = createDataSource(url);
  atExit(async () => {
    if (ds.isInitialized) await ds.destroy();
    if (!embedded) return;
    await embedded.stop();
    await rm(embedded.dir, { recursive: true, force: true });
  });
  await ds.initialize();
  await migrate(ds);
  // dataDir: where the embedded PostgreSQL keeps its data (null for DATABASE_URL).
  return { ds, url, dataDir: embedded?.dir ?? null };
}

/** An API client for Latchkey at `publicUrl`, authenticated as the bootstrap OAuth App. */
export async function apiClient(publicUrl, bootstrap) {
  const tokenRes = await fetch(`${publicUrl}/api/v1/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: bootstrap.id,
      client_secret: bootstrap.secret,
    }),
  });
  const token = (await tokenRes.json()).access_token;
  const call = async (method, p, body) => {
    const r = await fetch(`${publicUrl}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = await r.json();
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  return { token, call };
}

/**
 * An offering whose API base is `upstream`, and an integration of it. With `template`, the
 * offering's template parts are then written into its row (what the offerings API may not take).
 */
export async function createIntegration(api, upstream, { key = 'bench', ds, template } = {}) {
  const offering = await api.call('POST', '/api/v1/offerings', {
    key,
    provider: 'bench',
    environment: 'local',
    displayName: 'Bench',
    authorizationUrl: `${upstream}/authorize`,
    tokenUrl: `${upstream}/token`,
    scopes: { required: [], optional: [] },
    apiBaseUrl: upstream,
  });
  if (template)
    await ds.query(`UPDATE offerings SET template = $2 WHERE id = $1`, [
      offering.id,
      JSON.stringify(template),
    ]);
  return api.call('POST', '/api/v1/integrations', {
    name: key,
    offeringId: offering.id,
    clientId: 'bench-client',
  });
}

/**
 * Inserts `count` active connections of `integration` whose access tokens are valid for a day,
 * `batch` rows per statement; `accessToken(i)` gives the i-th token, `metadata` every row's
 * metadata. Resolves with their ids.
 */
export async function seedConnections(
  ds,
  keySpec,
  integration,
  { count, accessToken, batch = 1000, metadata = {} },
) {
  const ring = KeyRing.fromSpec(keySpec);
  const ids = [];
  for (let start = 0; start < count; start += batch) {
    const rows = { id: [], endUser: [], credentials: [] };
    for (let i = start; i < Math.min(count, start + batch); i++) {
      const id = randomUUID();
      const plaintext = JSON.stringify({
        accessToken: accessToken(i),
        refreshToken: `bench-refresh-${i}`,
        tokenType: 'Bearer',
        issuedAt: Date.now(),
        raw: {},
      });
      rows.id.push(id);
      // One account per end user: (integration, end user, provider user) is unique.
      rows.endUser.push(count === 1 ? 'bench-user' : `bench-user-${i}`);
      rows.credentials.push(
        ring.encrypt(plaintext, { table: 'connections', rowId: id, field: 'credentials' }),
      );
    }
    await ds.query(
      `INSERT INTO connections (id, workspace_id, integration_id, end_user_id, provider_user_id, granted_scopes, status,
         credentials_enc, access_token_expires_at, credentials_version, metadata)
       SELECT id, $1, $2, end_user_id, 'bench-account', '{}', 'active', credentials_enc, now() + interval '1 day', 1, $6
       FROM unnest($3::uuid[], $4::text[], $5::text[]) AS t(id, end_user_id, credentials_enc)`,
      [
        integration.workspaceId,
        integration.id,
        rows.id,
        rows.endUser,
        rows.credentials,
        JSON.stringify(metadata),
      ],
    );
    ids.push(...rows.id);
  }
  return ids;
}

/** A random access token as long as a Salesforce one (112 characters). */
export const randomAccessToken = () => randomBytes(84).toString('base64url');
