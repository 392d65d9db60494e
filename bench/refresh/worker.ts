/**
 * One Latchkey process for the refresh benchmark: boots the application exactly as main.ts does
 * (same configuration from the environment, SystemClock, scheduler enabled by
 * LATCHKEY_SCHEDULER_ENABLED), against DATABASE_URL, without the HTTP listener (the scheduler does
 * not need it). It only adds instrumentation: provider calls, scheduler passes, CPU and event-loop
 * use, reported to the runner over IPC.
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { createApp } from '../../src/app.js';
import { KeyRing } from '../../src/common/crypto/key-ring.js';
import { createLogger } from '../../src/common/logging/logger.js';
import { RandomSource } from '../../src/common/random.js';
import { SystemClock } from '../../src/common/time/clock.js';
import { loadConfig } from '../../src/config/config.js';
import {
  TokenRefreshScheduler,
  type TickReport,
} from '../../src/modules/token-refresh/token-refresh.scheduler.js';
import { TokenRefreshService } from '../../src/modules/token-refresh/token-refresh.service.js';
import type { PassRecord, WorkerCommand, WorkerEvent } from './protocol.js';

const send = (event: WorkerEvent) => process.send?.(event);

async function main(): Promise<void> {
  const booted = performance.now();
  const config = loadConfig(process.env);
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required');
  const logger = createLogger(config.logLevel);
  const app = await createApp({
    config,
    databaseUrl: config.databaseUrl,
    keyRing: KeyRing.fromSpec(config.encryptionKeys!),
    logger,
    clock: new SystemClock(),
    random: new RandomSource(),
    announce: () => undefined,
  });
  const refresher = app.get(TokenRefreshService);
  const scheduler = app.get(TokenRefreshScheduler);

  // Record each scheduler pass (the private method tick() runs), without changing what it does.
  const passes: PassRecord[] = [];
  const target = scheduler as unknown as { pass?: () => Promise<TickReport> };
  if (typeof target.pass === 'function') {
    const pass = target.pass.bind(scheduler);
    target.pass = async () => {
      const startedAt = Date.now();
      const report = await pass();
      if (report.claimed > 0) passes.push({ ...report, startedAt, endedAt: Date.now() });
      return report;
    };
  }

  let callsAtStart = 0;
  let eluAtStart = performance.eventLoopUtilization();
  let cpuAtStart = process.cpuUsage();
  process.on('message', (command: WorkerCommand) => {
    if (command.type === 'start') {
      callsAtStart = refresher.providerCalls;
      passes.length = 0;
      eluAtStart = performance.eventLoopUtilization();
      cpuAtStart = process.cpuUsage();
    } else if (command.type === 'stop') {
      const cpu = process.cpuUsage(cpuAtStart);
      const event: WorkerEvent = {
        type: 'stopped',
        owner: refresher.owner,
        providerCalls: refresher.providerCalls - callsAtStart,
        passes: [...passes],
        eventLoopUtilization: performance.eventLoopUtilization(eluAtStart).utilization,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
      };
      void app
        .close()
        .catch(() => undefined)
        .then(() => {
          send(event);
          process.disconnect?.();
        });
    }
  });
  // The runner went away: do not outlive it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', owner: refresher.owner, bootMs: performance.now() - booted });
}

main().catch((error: unknown) => {
  send({
    type: 'error',
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  process.exitCode = 1;
  process.disconnect?.();
});
