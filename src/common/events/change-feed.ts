import { Global, Inject, Injectable, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import type { Logger } from 'pino';
import { type DataSource, type EntityManager } from 'typeorm';
import { LOGGER } from '../logging/logger.js';
import { RandomSource } from '../random.js';

export type ChangeKind = 'app' | 'connection' | 'integration' | 'offering';
export interface Change {
  kind: ChangeKind;
  id: string;
}
type Listener = (change: Change) => void;

const CHANNEL = 'latchkey_changes';
const ECHO_TIMEOUT_MS = 1_000;

/**
 * Cross-replica cache invalidation over PostgreSQL LISTEN/NOTIFY. Writers publish inside their
 * transaction (delivered on commit, to every replica including this one). While the listening
 * connection is down, `healthy` is false and caches must not serve: they fail closed.
 */
@Injectable()
export class ChangeFeed implements OnModuleInit, OnApplicationShutdown {
  private client: pg.Client | undefined;
  private readonly listeners = new Set<Listener>();
  private readonly echoes = new Map<string, () => void>();
  private connected = false;
  private stopped = false;
  /** Bumped whenever the feed (re)connects or drops: caches compare it to discard stale entries. */
  epoch = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly random: RandomSource,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  get healthy(): boolean {
    return this.connected;
  }

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.client?.end().catch(() => undefined);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Announces a change (inside `manager`'s transaction when given). Resolves once this replica
   * has received its own notification back: every listener connection has been sent it by then.
   */
  async publish(change: Change, manager?: EntityManager): Promise<void> {
    this.emit(change); // This replica forgets at once, whatever happens next.
    const nonce = this.random.token(9);
    const echoed = this.connected
      ? new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.echoes.delete(nonce);
            resolve();
          }, ECHO_TIMEOUT_MS);
          this.echoes.set(nonce, () => {
            clearTimeout(timer);
            resolve();
          });
        })
      : Promise.resolve();
    await (manager ?? this.dataSource).query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ ...change, nonce })]);
    if (!manager) await echoed; // In a transaction, the echo only comes after commit: don't wait here.
  }

  private emit(change: Change): void {
    for (const listener of this.listeners) listener(change);
  }

  private async connect(): Promise<void> {
    const options = this.dataSource.options as { url?: string };
    const client = new pg.Client({ connectionString: options.url, application_name: 'latchkey-listen' });
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      try {
        const { kind, id, nonce } = JSON.parse(msg.payload) as Change & { nonce?: string };
        this.emit({ kind, id });
        const echo = nonce ? this.echoes.get(nonce) : undefined;
        if (echo && nonce) {
          this.echoes.delete(nonce);
          echo();
        }
      } catch {
        this.logger.warn('ignored a malformed change notification');
      }
    });
    const lost = () => {
      if (!this.connected && this.client !== client) return;
      this.connected = false;
      this.epoch++;
      if (!this.stopped) {
        this.logger.error('change feed lost its database connection: caches are bypassed until it reconnects');
        setTimeout(() => void this.connect().catch(() => undefined), 1_000).unref();
      }
    };
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.client = client;
      this.connected = true;
      this.epoch++;
    } catch (error) {
      this.logger.error({ err: error }, 'change feed could not connect; retrying');
      await client.end().catch(() => undefined);
      if (!this.stopped) setTimeout(() => void this.connect().catch(() => undefined), 1_000).unref();
    }
  }
}

@Global()
@Module({ providers: [ChangeFeed], exports: [ChangeFeed] })
export class ChangeFeedModule {}
