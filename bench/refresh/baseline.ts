/**
 * The baseline: the provider's raw capacity. Sends refresh_token grants straight to the provider's
 * token endpoint — the same request openid-client sends for Latchkey (client_secret_post), through
 * the same kind of keep-alive undici pool — with `concurrency` requests in flight, and nothing
 * else: no database, no decryption, no signature check.
 */
import { performance } from 'node:perf_hooks';
import { Agent } from 'undici';
import type { BaselineCommand, BaselineEvent } from './protocol.js';

const send = (event: BaselineEvent) => process.send?.(event);

let job: Extract<BaselineCommand, { type: 'job' }> | undefined;

async function run(j: NonNullable<typeof job>): Promise<void> {
  const dispatcher = new Agent({ keepAliveTimeout: 30_000 });
  let next = 0;
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < j.refreshTokens.length) {
      const refreshToken = j.refreshTokens[next++];
      try {
        const res = await fetch(j.tokenUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: refreshToken,
            client_id: j.clientId,
            client_secret: j.clientSecret,
          }).toString(),
          dispatcher,
        } as unknown as RequestInit);
        const body = (await res.json()) as { access_token?: string };
        if (res.ok && body.access_token) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: j.concurrency }, worker));
  const ms = performance.now() - started;
  await dispatcher.close();
  send({ type: 'done', ok, failed, ms });
}

process.on('message', (command: BaselineCommand) => {
  if (command.type === 'job') {
    job = command;
    send({ type: 'ready' });
  } else if (command.type === 'go' && job) {
    run(job)
      .catch((error: unknown) => send({ type: 'error', message: String(error) }))
      .finally(() => process.disconnect?.());
  }
});
process.on('disconnect', () => process.exit(0));
