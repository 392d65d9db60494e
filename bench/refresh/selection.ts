/**
 * Batch selection: how long the scheduler's claim query takes with many connections stored and
 * ~1% due, with the partial index `idx_connections_due` and (the baseline) without it.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { ConnectionStore } from '../../src/modules/connections/connection-store.js';

export interface SelectionOptions {
  databaseUrl: string;
  workspaceId: string;
  integrationId: string;
  sizes: number[];
  runs: number;
  batchSize: number;
  /** Size of the stand-in for credentials_enc, so rows are as wide as real ones. */
  rowBytes: number;
  progress: (message: string) => void;
}

export interface Timing {
  runs: number;
  medianMs: number;
  p95Ms: number;
  /** Top plan nodes, e.g. "Limit > LockRows > Index Scan using idx_connections_due". */
  plan: string;
  /** Rows the scan node returned (EXPLAIN ANALYZE). */
  rowsRead: number;
  /** Shared buffers touched by the whole query (hit + read). */
  buffers: number;
}

export interface SelectionResult {
  stored: number;
  due: number;
  insertSeconds: number;
  tableMb: number;
  withIndex: Timing;
  /** The whole claim (UPDATE … RETURNING of the selected rows), rolled back. */
  claimWithIndex: Timing;
  withoutIndex: Timing;
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

/** The claim's inner SELECT on its own: $1 = now, $2 = batch size. */
export function innerSelect(): string {
  const sql = ConnectionStore.CLAIM_SQL;
  return sql
    .slice(sql.indexOf('SELECT id'), sql.lastIndexOf(')'))
    .replaceAll('$3', '$1')
    .replaceAll('$4', '$2');
}

export async function benchmarkSelection(options: SelectionOptions): Promise<SelectionResult[]> {
  const { runs, batchSize, progress } = options;
  const client = new pg.Client({
    connectionString: options.databaseUrl,
    application_name: 'latchkey-bench',
  });
  await client.connect();
  const results: SelectionResult[] = [];
  try {
    await client.query('DELETE FROM connections');
    await client.query('VACUUM ANALYZE connections');
    const [{ indexdef }] = (
      await client.query<{ indexdef: string }>(
        `SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_connections_due'`,
      )
    ).rows;
    const now = new Date();
    const select = innerSelect();
    let stored = 0;
    for (const size of options.sizes) {
      progress(
        `batch selection: inserting ${(size - stored).toLocaleString('en')} connections (→ ${size.toLocaleString('en')})`,
      );
      const started = performance.now();
      // Bulk load: the secondary indexes are dropped and rebuilt afterwards (same definitions).
      const secondary = (
        await client.query<{ indexname: string; indexdef: string }>(
          `SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = 'connections' AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
        )
      ).rows;
      for (const { indexname } of secondary)
        await client.query(`DROP INDEX ${client.escapeIdentifier(indexname)}`);
      // Two sessions, one per core, each inserting half of the range.
      const half = Math.ceil((size - stored) / 2);
      const ranges = [
        [stored + 1, stored + half],
        [stored + half + 1, size],
      ].filter(([from, to]) => to >= from);
      await Promise.all(ranges.map(([from, to]) => insertRange(options, now, from, to)));
      for (const { indexdef: definition } of secondary) await client.query(definition);
      await client.query('VACUUM ANALYZE connections');
      const insertSeconds = (performance.now() - started) / 1000;
      stored = size;
      const [{ due, mb }] = (
        await client.query<{ due: number; mb: number }>(
          `SELECT (SELECT count(*)::int FROM connections WHERE status IN ('active', 'error') AND next_refresh_at <= $1) AS due,
                  round(pg_total_relation_size('connections') / 1048576.0)::int AS mb`,
          [now],
        )
      ).rows;

      progress(
        `batch selection: ${size.toLocaleString('en')} stored, timing the claim query with the partial index`,
      );
      const withIndex = await time(client, select, [now, batchSize], runs);
      const claimWithIndex = await time(
        client,
        ConnectionStore.CLAIM_SQL,
        ['latchkey-bench', new Date(now.getTime() + 60_000), now, batchSize],
        Math.max(5, Math.floor(runs / 2)),
      );
      progress(
        `batch selection: ${size.toLocaleString('en')} stored, timing it without the index (baseline)`,
      );
      await client.query('DROP INDEX idx_connections_due');
      let withoutIndex: Timing;
      try {
        await client.query('ANALYZE connections');
        withoutIndex = await time(client, select, [now, batchSize], runs);
      } finally {
        await client.query(indexdef);
        await client.query('ANALYZE connections');
      }
      results.push({
        stored: size,
        due,
        insertSeconds,
        tableMb: mb,
        withIndex,
        claimWithIndex,
        withoutIndex,
      });
    }
  } finally {
    await client.end();
  }
  return results;
}

/**
 * Inserts connections number `from`..`to`: 10% cannot be refreshed (needs_reauth / revoked: out of
 * the partial index), 1% are due now (spread over the last hour), the rest over the next day.
 */
async function insertRange(
  options: SelectionOptions,
  now: Date,
  from: number,
  to: number,
): Promise<void> {
  const client = new pg.Client({
    connectionString: options.databaseUrl,
    application_name: 'latchkey-bench',
  });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO connections (id, workspace_id, integration_id, end_user_id, provider_user_id, granted_scopes, status,
                                credentials_enc, access_token_expires_at, next_refresh_at, credentials_version)
       SELECT gen_random_uuid(), $1, $2, 'sel-' || g, 'p', '{api,refresh_token}',
              CASE WHEN g % 20 = 0 THEN 'needs_reauth' WHEN g % 20 = 1 THEN 'revoked' ELSE 'active' END,
              CASE WHEN g % 20 = 1 THEN NULL ELSE repeat('x', $6) END,
              $3::timestamptz + interval '2 hours',
              CASE WHEN g % 20 IN (0, 1) THEN NULL
                   WHEN g % 100 = 2 THEN $3::timestamptz - interval '1 second' * (g % 3600)
                   ELSE $3::timestamptz + interval '1 minute' + interval '1 second' * (g % 86400) END,
              1
         FROM generate_series($4::int, $5::int) AS g`,
      [options.workspaceId, options.integrationId, now, from, to, options.rowBytes],
    );
  } finally {
    await client.end();
  }
}

/**
 * Median and p95 of `runs` executions (fewer, but at least 5, when they take over 5 s in all),
 * each in its own transaction that is rolled back.
 */
async function time(
  client: pg.Client,
  sql: string,
  params: unknown[],
  runs: number,
): Promise<Timing> {
  const samples: number[] = [];
  let spent = 0;
  // One warm-up run (plan cache, buffers), not counted.
  for (let i = 0; i <= runs && !(samples.length >= 5 && spent > 5_000); i++) {
    await client.query('BEGIN');
    const started = performance.now();
    await client.query(sql, params);
    const ms = performance.now() - started;
    await client.query('ROLLBACK');
    if (i > 0) samples.push(ms);
    spent += ms;
  }
  await client.query('BEGIN');
  const explained = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`,
    params,
  );
  await client.query('ROLLBACK');
  const root = explained.rows[0]['QUERY PLAN'][0].Plan;
  const chain: string[] = [];
  let scan: PlanNode | undefined;
  const walk = (node: PlanNode) => {
    const label = node['Index Name']
      ? `${node['Node Type']} using ${node['Index Name']}`
      : node['Node Type'];
    chain.push(label);
    if (/Scan/.test(node['Node Type']) && node['Relation Name'] === 'connections') scan ??= node;
    // Follow the branch that reads connections (the claim's UPDATE joins its subquery).
    const child =
      node.Plans?.find((p) => JSON.stringify(p).includes('"connections"')) ?? node.Plans?.[0];
    if (child) walk(child);
  };
  walk(root);
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  return {
    runs: samples.length,
    medianMs: at(0.5),
    p95Ms: at(0.95),
    plan: chain.join(' > '),
    rowsRead: scan?.['Actual Rows'] ?? 0,
    buffers: (root['Shared Hit Blocks'] ?? 0) + (root['Shared Read Blocks'] ?? 0),
  };
}
