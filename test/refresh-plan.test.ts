import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../src/database/data-source.js';
import { ConnectionStore } from '../src/modules/connections/connection-store.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe('scheduler batch selection', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const STORED = 100_000;
  const DUE = 150;
  const now = new Date('2026-11-22T12:00:00Z');

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource(db.url);
    await ds.initialize();
    const ws = randomUUID();
    const offering = randomUUID();
    const integration = randomUUID();
    await ds.query(`INSERT INTO workspaces (id, slug, name) VALUES ($1, 'plan', 'Plan')`, [ws]);
    await ds.query(
      `INSERT INTO offerings (id, key, provider, environment, display_name, enabled, auth_mode, authorization_url, token_url,
         token_endpoint_auth_method, scopes, pkce, token_response_style, default_access_token_ttl_seconds, allowed_api_hosts)
       VALUES ($1, 'plan', 'p', 'e', 'P', true, 'oauth2', 'https://a.example/a', 'https://a.example/t', 'client_secret_post',
         '{"required":[],"optional":[],"default":[]}', 'S256', 'standard', 3600, '{}')`,
      [offering],
    );
    await ds.query(
      `INSERT INTO integrations (id, workspace_id, offering_id, name, client_id, scopes, status) VALUES ($1, $2, $3, 'i', 'c', '{}', 'configured')`,
      [integration, ws, offering],
    );
    // 100k connections: most due in the future, some revoked or needing re-auth, DUE of them due now.
    await ds.query(
      `INSERT INTO connections (id, workspace_id, integration_id, end_user_id, provider_user_id, granted_scopes, status, next_refresh_at)
       SELECT gen_random_uuid(), $1, $2, 'u' || g, 'p' || g, '{}',
              CASE WHEN g % 10 = 0 THEN 'needs_reauth' WHEN g % 10 = 1 THEN 'revoked' ELSE 'active' END,
              CASE WHEN g <= $4 THEN $3::timestamptz - interval '1 minute' * (g % 30)
                   WHEN g % 10 IN (0, 1) THEN NULL
                   ELSE $3::timestamptz + interval '1 second' * g END
         FROM generate_series(1, $5) AS g`,
      [ws, integration, now, DUE * 10, STORED],
    );
    await ds.query('ANALYZE connections');
  }, 120_000);

  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  it(`reads only due rows through the partial index, with ${STORED} stored`, async () => {
    // The claim's inner SELECT, run on its own: $3 (now) and $4 (batch size) become $1 and $2.
    const sql = ConnectionStore.CLAIM_SQL;
    const select = sql
      .slice(sql.indexOf('SELECT id'), sql.lastIndexOf(')'))
      .replaceAll('$3', '$1')
      .replaceAll('$4', '$2');
    await ds.transaction(async (tx) => {
      const [
        {
          'QUERY PLAN': [plan],
        },
      ]: Array<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }> = await tx.query(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${select}`,
        [now, 200],
      );
      const all = nodes(plan.Plan);
      expect(all.some((n) => n['Node Type'] === 'Seq Scan')).toBe(false);
      const scan = all.find((n) => n['Index Name'] === 'idx_connections_due');
      expect(scan, JSON.stringify(plan.Plan)).toBeDefined();
      // Rows read follow the number due (DUE*10 generated as due, minus needs_reauth/revoked), not the number stored.
      expect(scan!['Actual Rows']).toBeLessThanOrEqual(200);
    });
  });

  it('claims each due connection once when two replicas claim concurrently', async () => {
    const claim = (owner: string) =>
      ds.query(ConnectionStore.CLAIM_SQL, [
        owner,
        new Date(now.getTime() + 60_000),
        now,
        1000,
      ]) as Promise<[Array<{ id: string }>, number]>;
    const [[a], [b]] = await Promise.all([claim('replica-a'), claim('replica-b')]);
    const ids = [...a, ...b].map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    const [{ n }]: Array<{ n: number }> = await ds.query(
      `SELECT count(*)::int AS n FROM connections WHERE status IN ('active','error') AND next_refresh_at <= $1`,
      [now],
    );
    expect(ids.length).toBe(n);
  });
});
