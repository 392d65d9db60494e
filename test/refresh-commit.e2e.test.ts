import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/common/time/clock.js';
import { DEFAULT_USER } from '../tools/providers/salesforce/index.js';
import { newConnection as createConnection, useConnectWorld } from './support/connect.js';

/**
 * The refresh path's last step: writing the provider's new tokens. The database write is made to
 * fail on purpose (a trigger that raises while a non-transactional sequence says so).
 */
describe('refresh commit when the database write fails', () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 29, 12));
  const w = useConnectWorld({ clock });
  let n = 0;

  const newConnection = () => createConnection(w, `commit-user-${++n}`);
  const sql = (text: string, params: unknown[] = []) => w.t.dataSource.query(text, params);
  const row = async (id: string) =>
    (
      await sql(
        'SELECT credentials_version, status, credentials_enc FROM connections WHERE id = $1',
        [id],
      )
    )[0];
  const loudLines = () =>
    w.t.logs.filter((l) => l.includes('REFRESHED TOKENS NOT YET STORED')).length;

  /** The next `failures` writes of new credentials fail; later ones succeed. */
  async function failNextCommits(failures: number) {
    await sql('DROP SEQUENCE IF EXISTS test_commit_failures');
    await sql('CREATE SEQUENCE test_commit_failures');
    await sql(`CREATE OR REPLACE FUNCTION test_fail_commit() RETURNS trigger AS $$
      BEGIN
        IF NEW.credentials_version <> OLD.credentials_version AND nextval('test_commit_failures') <= ${failures} THEN
          RAISE EXCEPTION 'injected failure while storing refreshed tokens';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await sql('DROP TRIGGER IF EXISTS test_fail_commit ON connections');
    await sql(
      'CREATE TRIGGER test_fail_commit BEFORE UPDATE ON connections FOR EACH ROW EXECUTE FUNCTION test_fail_commit()',
    );
  }

  // Runs before the world closes (after-hooks run in reverse order).
  afterAll(async () => {
    await sql('DROP TRIGGER IF EXISTS test_fail_commit ON connections');
  });

  it('retries the write of the same tokens (no second provider call) and hands out what the provider issued', async () => {
    const id = await newConnection();
    const before = await row(id);
    const providerCalls = w.sf.refreshRequests;
    await failNextCommits(2);
    const logged = loudLines();

    const res = await w.t.http
      .post(`/api/v1/connections/${id}/refresh`)
      .auth(w.dev, { type: 'bearer' });
    expect(res.status).toBe(200);
    expect(w.sf.refreshRequests).toBe(providerCalls + 1);
    expect(loudLines() - logged).toBe(2);
    const after = await row(id);
    expect(after.credentials_version).toBe(before.credentials_version + 1);
    expect(after.status).toBe('active');

    const token = await w.t.http
      .get(`/api/v1/connections/${id}/access-token`)
      .auth(w.dev, { type: 'bearer' });
    expect(token.status).toBe(200);
    expect(w.t.secret(token.body.accessToken)).toBe(
      w.sf.latestTokensFor(DEFAULT_USER.userId)!.accessToken,
    );
  });

  it('answers a retryable 503 when every write fails, and leaves the stored credentials as they were', async () => {
    const id = await newConnection();
    const before = await row(id);
    await failNextCommits(1_000);
    const logged = loudLines();
    const providerCalls = w.sf.refreshRequests;

    const res = await w.t.http
      .post(`/api/v1/connections/${id}/refresh`)
      .auth(w.dev, { type: 'bearer' });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('connection.refresh_unavailable');
    expect(res.body.error.message).not.toMatch(/injected|trigger|sql/i);
    expect(loudLines() - logged).toBe(5);
    expect(w.sf.refreshRequests).toBe(providerCalls + 1);
    const after = await row(id);
    expect(after.credentials_version).toBe(before.credentials_version);
    expect(after.credentials_enc).toBe(before.credentials_enc);
    expect(after.status).toBe('active');
  });
});
