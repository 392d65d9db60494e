/** Messages between the benchmark runner and its child processes (Node IPC). */

/** Runner → Latchkey worker. */
export type WorkerCommand = { type: 'start' } | { type: 'stop' };

export interface PassRecord {
  claimed: number;
  refreshed: number;
  failed: number;
  /** Wall-clock start and end (ms since the epoch). */
  startedAt: number;
  endedAt: number;
}

/** Latchkey worker → runner. */
export type WorkerEvent =
  | { type: 'ready'; owner: string; bootMs: number }
  | {
      type: 'stopped';
      owner: string;
      /** TokenRefreshService.providerCalls since 'start'. */
      providerCalls: number;
      /** Scheduler passes that claimed something, since 'start'. */
      passes: PassRecord[];
      /** Event-loop utilisation (0–1) since 'start'. */
      eventLoopUtilization: number;
      /** User + system CPU seconds since 'start'. */
      cpuSeconds: number;
    }
  | { type: 'error'; message: string };

/** Runner → baseline client. */
export type BaselineCommand =
  | {
      type: 'job';
      tokenUrl: string;
      clientId: string;
      clientSecret: string;
      refreshTokens: string[];
      concurrency: number;
    }
  | { type: 'go' };

/** Baseline client → runner. */
export type BaselineEvent =
  | { type: 'ready' }
  | { type: 'done'; ok: number; failed: number; ms: number }
  | { type: 'error'; message: string };
