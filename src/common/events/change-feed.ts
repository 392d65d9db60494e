import { Global, Inject, Injectable, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import type { Logger } from 'pino';
import { type DataSource, type EntityManager } from 'typeorm';
import { LOGGER } from '../logging/logger.js';
import { RandomSource } from '../random.js';

export type ChangeKind = 'app' | 'connection' | 'integration' | 'offering' | 'signing-key';
export interface Change {
  kind: ChangeKind;
  id: string;
}
type Listener = (change: Change) => void;

export interface PublishOptions {
  /** Publish inside this transaction: delivered when it commits, and not waited for. */
  manager?: EntityManager;
  /**
   * Wait until every other replica has dropped what it cached (default). `false` only waits for
   * this replica's own notification: for changes that leave what others cached still usable
   * (a refresh leaves the old access token valid until it expires).
   */
  confirm?: boolean;
}

const CHANNEL = 'latchkey_changes';
/** A listener's `application_name` once it listens: how a publisher finds the replicas to wait for. */
const LISTENER_NAME = 'latchkey-listen';
const ackChannel = (pid: number) => `latchkey_ack_${pid}`;
const CONFIRM_TIMEOUT_MS = 1_000;

/**
 * Announces a change from a process that runs no ChangeFeed (the CLI), inside `manager`'s
 * transaction: every listening replica gets it at commit. Not waited for.
 */
export async function announceChange(manager: EntityManager, change: Change): Promise<void> {
  await manager.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(change)]);
}

/** A publish waiting for the listeners (backend pids) that must confirm it, own echo included. */
interface Pending {
  confirmed: Set<number>;
  /** Known once the notifying statement returns; confirmations may arrive before that. */
  expected: number[] | undefined;
  settle: () => void;
}

/**
 * Cross-replica cache invalidation over PostgreSQL LISTEN/NOTIFY, delivered to every replica
 * including this one. A change published inside a transaction goes out when it commits, and is
 * not waited for. One published on its own is waited for until every replica listening at that
 * moment has confirmed that it dropped the entry, so a revoke is honoured by every replica once
 * its API call has answered. While the listening connection is down, `healthy` is false and
 * caches must not serve: they fail closed.
 */
@Injectable()
export class ChangeFeed implements OnModuleInit, OnApplicationShutdown {
  private client: pg.Client | undefined;
  /** The listening connection's backend pid: this replica's name in confirmations. */
  private pid: number | undefined;
  private readonly listeners = new Set<Listener>();
  private readonly pending = new Map<string, Pending>();
  /**
   * Listeners that let a change go unconfirmed: not waited for again until they confirm one, so a
   * replica that vanished without closing its connection (its backend lingers until PostgreSQL's
   * TCP keepalive drops it) costs one timeout, not one per change.
   */
  private readonly unresponsive = new Set<number>();
  /** Confirmations go out one at a time on the listening connection (pg queues no concurrent queries). */
  private confirming: Promise<unknown> = Promise.resolve();
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
   * Announces a change. This replica forgets at once. Outside a transaction, resolves once this
   * replica has had its own notification back and, unless `confirm: false`, every other listening
   * replica has confirmed it (or after 1 s, logged: a replica that cannot confirm is stalled or has
   * lost its listening connection, and then serves nothing from its caches once it notices).
   */
  async publish(change: Change, { manager, confirm = true }: PublishOptions = {}): Promise<void> {
    this.emit(change);
    const self = this.connected ? this.pid : undefined;
    if (manager || self === undefined) {
      // In a transaction the notification only goes out at commit: nothing to wait for here.
      await (manager ?? this.dataSource).query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(change)]);
      return;
    }
    const nonce = this.random.token(9);
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const pending: Pending = { confirmed: new Set(), expected: confirm ? undefined : [self], settle };
    this.pending.set(nonce, pending);
    const timer = setTimeout(() => {
      const missing = pending.expected?.filter((pid) => !pending.confirmed.has(pid));
      for (const pid of missing ?? []) this.unresponsive.add(pid);
      this.logger.warn({ change: change.kind, missing: missing?.length }, 'a change was not confirmed by every replica in time');
      settle();
    }, CONFIRM_TIMEOUT_MS);
    try {
      const payload = JSON.stringify({ ...change, nonce, ...(confirm ? { ack: self } : {}) });
      // The listeners are read in the statement that notifies: any replica listening then gets it.
      const rows: Array<{ listeners: number[] | null }> = confirm
        ? await this.dataSource.query(
            `SELECT pg_notify($1, $2), ARRAY(SELECT pid FROM pg_stat_activity
               WHERE application_name = $3 AND datname = current_database()) AS listeners`,
            [CHANNEL, payload, LISTENER_NAME],
          )
        : await this.dataSource.query('SELECT pg_notify($1, $2)', [CHANNEL, payload]);
      if (confirm) {
        const listeners = new Set(rows[0].listeners ?? []);
        for (const pid of this.unresponsive) if (!listeners.has(pid)) this.unresponsive.delete(pid); // gone
        pending.expected = [self, ...[...listeners].filter((pid) => pid !== self && !this.unresponsive.has(pid))];
      }
      this.settleIfConfirmed(nonce, pending);
      await done;
    } finally {
      clearTimeout(timer);
      this.pending.delete(nonce);
    }
  }

  private settleIfConfirmed(nonce: string, pending: Pending): void {
    if (pending.expected && pending.expected.every((pid) => pending.confirmed.has(pid))) {
      this.pending.delete(nonce);
      pending.settle();
    }
  }

  private confirmed(nonce: string, pid: number): void {
    this.unresponsive.delete(pid); // it answers again, if late
    const pending = this.pending.get(nonce);
    if (!pending) return;
    pending.confirmed.add(pid);
    this.settleIfConfirmed(nonce, pending);
  }

  private emit(change: Change): void {
    for (const listener of this.listeners) listener(change);
  }

  private async connect(): Promise<void> {
    const options = this.dataSource.options as { url?: string };
    // Named a listener only once it listens (below), so no publisher waits for it before then.
    const client = new pg.Client({ connectionString: options.url, application_name: `${LISTENER_NAME}-starting` });
    let pid = 0; // set once connected, before any notification can arrive
    client.on('notification', (msg) => {
      if (!msg.payload) return;
      if (msg.channel !== CHANNEL) {
        // A confirmation of one of this replica's changes: "<nonce> <pid>".
        const [nonce, from] = msg.payload.split(' ');
        if (msg.channel === ackChannel(pid) && nonce && from) this.confirmed(nonce, Number(from));
        return;
      }
      try {
        const { kind, id, nonce, ack } = JSON.parse(msg.payload) as Change & { nonce?: string; ack?: number };
        this.emit({ kind, id });
        if (!nonce) return;
        if (ack === undefined || ack === pid) {
          this.confirmed(nonce, pid); // this replica's own change, back (or another's unconfirmed one: ignored)
        } else {
          // Dropped above, synchronously: now tell the publisher.
          this.confirming = this.confirming
            .then(() => client.query('SELECT pg_notify($1, $2)', [ackChannel(ack), `${nonce} ${pid}`]))
            .catch(() => undefined); // unconfirmed, the publisher logs it after its timeout
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
      pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await client.query(`LISTEN ${CHANNEL}; LISTEN ${ackChannel(pid)}; SET application_name = '${LISTENER_NAME}'`);
      this.client = client;
      this.pid = pid;
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
