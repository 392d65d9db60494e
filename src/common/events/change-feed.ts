import {
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Socket } from 'node:net';
import pg from 'pg';
import type { Logger } from 'pino';
import { type DataSource, type EntityManager } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import type { AppConfig } from '../../config/config.js';
import { LOGGER } from '../logging/logger.js';
import { RandomSource } from '../random.js';

export type ChangeKind =
  | 'app'
  | 'connection'
  /** An authorization-code grant was revoked: its access tokens stop working. */
  | 'grant'
  | 'integration'
  | 'offering'
  | 'signing-key'
  /** New webhook deliveries were committed (a trigger announces them): wakes the delivery workers. */
  | 'webhook-delivery';
export interface Change {
  kind: ChangeKind;
  id: string;
}
type Listener = (change: Change) => void;
export type ChangeFeedOptions = Pick<AppConfig, 'changeFeedHeartbeatMs'>;

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
/** The listening connection's notifications to itself: proof that notifications still arrive. */
const heartbeatChannel = (pid: number) => `latchkey_heartbeat_${pid}`;
/** Heartbeats in a row not echoed before the feed counts as down. */
const MISSED_HEARTBEATS = 2;
const KEEPALIVE_INITIAL_DELAY_MS = 10_000;
/** The first reconnection waits this long, each failure in a row twice as long, up to the maximum. */
const RECONNECT_DELAY_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 30_000;

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
 *
 * "Down" includes a connection that died without a word (a network drop sends no error and no
 * FIN): every heartbeat the listening connection notifies itself, and when two in a row have not
 * come back it is closed, every cache is cleared, and it reconnects with backoff. A new connection
 * counts as up only once its own first heartbeat has come back: notifications sent while no
 * connection listened are lost, so nothing cached before then is served again.
 */
@Injectable()
export class ChangeFeed implements OnModuleInit, OnApplicationShutdown {
  private client: pg.Client | undefined;
  /** The listening client's socket, ours so that a dead connection can be closed at once. */
  private socket: Socket | undefined;
  /** The listening connection's backend pid: this replica's name in confirmations. */
  private pid: number | undefined;
  private readonly listeners = new Set<Listener>();
  private readonly downListeners = new Set<() => void>();
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
  /** Heartbeats sent on the current connection since the last echo. */
  private unanswered = 0;
  /** Failed connections in a row: the next attempt waits longer. */
  private failures = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Bumped whenever the feed (re)connects or drops: caches compare it to discard stale entries. */
  epoch = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly random: RandomSource,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(APP_CONFIG) private readonly config: ChangeFeedOptions,
  ) {}

  get healthy(): boolean {
    return this.connected;
  }

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    const [client, socket] = [this.client, this.socket];
    this.client = undefined;
    this.connected = false;
    if (!client) return;
    // A polite goodbye, but not forever: on a dead connection `end()` waits for a reply that never comes.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.end().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, 1_000))),
    ]);
    clearTimeout(timer);
    socket?.destroy();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when the feed goes down: whatever was cached may have missed a change since. */
  onDown(listener: () => void): () => void {
    this.downListeners.add(listener);
    return () => this.downListeners.delete(listener);
  }

  /**
   * One heartbeat (the timer calls it every `changeFeedHeartbeatMs`): notifies the listening
   * connection itself, and drops the connection when the last two went unanswered.
   */
  private heartbeat(): void {
    const [client, pid] = [this.client, this.pid];
    if (!client || pid === undefined) return;
    if (this.unanswered >= MISSED_HEARTBEATS) {
      this.drop(client, `no heartbeat came back within ${MISSED_HEARTBEATS} heartbeats`);
      return;
    }
    this.sendHeartbeat(client, pid).catch(() => undefined); // a failed query ends the connection: 'error'/'end' handle it
  }

  private sendHeartbeat(client: pg.Client, pid: number): Promise<unknown> {
    this.unanswered++;
    return client.query('SELECT pg_notify($1, $2)', [heartbeatChannel(pid), 'beat']);
  }

  /** A heartbeat came back on `client`: notifications reach this replica. */
  private echoed(client: pg.Client): void {
    if (this.client !== client) return;
    this.unanswered = 0;
    if (this.connected) return;
    if (this.failures > 0) this.logger.info('change feed is listening again');
    this.failures = 0;
    this.connected = true;
    this.epoch++;
  }

  /**
   * Gives up the listening connection (once per connection): caches are cleared and bypassed, the
   * socket is closed (a silently dead one never closes by itself), and a new connection is tried
   * after a delay that doubles with each failure in a row.
   */
  private drop(client: pg.Client, reason: string): void {
    if (this.client !== client) return;
    const wasUp = this.connected;
    this.client = undefined;
    this.pid = undefined;
    this.connected = false;
    this.epoch++;
    clearInterval(this.heartbeatTimer);
    this.socket?.destroy();
    this.socket = undefined;
    for (const listener of this.downListeners) listener();
    if (this.stopped) return;
    const delay = Math.min(
      MAX_RECONNECT_DELAY_MS,
      RECONNECT_DELAY_MS * 2 ** Math.min(this.failures, 5),
    );
    this.failures++;
    if (wasUp) {
      this.logger.error(
        { reason, retryInMs: delay },
        'change feed lost its database connection: caches are bypassed until it reconnects',
      );
    } else {
      this.logger.warn({ reason, retryInMs: delay }, 'change feed could not listen; retrying');
    }
    this.reconnectTimer = setTimeout(() => void this.connect(), delay).unref();
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
      await (manager ?? this.dataSource).query('SELECT pg_notify($1, $2)', [
        CHANNEL,
        JSON.stringify(change),
      ]);
      return;
    }
    const nonce = this.random.token(9);
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const pending: Pending = {
      confirmed: new Set(),
      expected: confirm ? undefined : [self],
      settle,
    };
    this.pending.set(nonce, pending);
    const timer = setTimeout(() => {
      const missing = pending.expected?.filter((pid) => !pending.confirmed.has(pid));
      for (const pid of missing ?? []) this.unresponsive.add(pid);
      this.logger.warn(
        { change: change.kind, missing: missing?.length },
        'a change was not confirmed by every replica in time',
      );
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
        pending.expected = [
          self,
          ...[...listeners].filter((pid) => pid !== self && !this.unresponsive.has(pid)),
        ];
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
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    const options = this.dataSource.options as { url?: string };
    let socket: Socket | undefined;
    const client = new pg.Client({
      connectionString: options.url,
      // Named a listener only once it listens (below), so no publisher waits for it before then.
      application_name: `${LISTENER_NAME}-starting`,
      // Lets the OS notice a dead peer eventually and keeps middleboxes from forgetting the idle
      // connection; the heartbeat is what notices within seconds.
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
      stream: () => (socket = new Socket()),
    });
    this.client = client;
    this.socket = socket;
    this.unanswered = 0;
    let pid = 0; // set once connected, before any notification can arrive
    client.on('notification', (msg) => {
      if (!msg.payload) return;
      if (msg.channel === heartbeatChannel(pid)) {
        this.echoed(client);
        return;
      }
      if (msg.channel !== CHANNEL) {
        // A confirmation of one of this replica's changes: "<nonce> <pid>".
        const [nonce, from] = msg.payload.split(' ');
        if (msg.channel === ackChannel(pid) && nonce && from) this.confirmed(nonce, Number(from));
        return;
      }
      try {
        const { kind, id, nonce, ack } = JSON.parse(msg.payload) as Change & {
          nonce?: string;
          ack?: number;
        };
        this.emit({ kind, id });
        if (!nonce) return;
        if (ack === undefined || ack === pid) {
          this.confirmed(nonce, pid); // this replica's own change, back (or another's unconfirmed one: ignored)
        } else {
          // Dropped above, synchronously: now tell the publisher.
          this.confirming = this.confirming
            .then(() =>
              client.query('SELECT pg_notify($1, $2)', [ackChannel(ack), `${nonce} ${pid}`]),
            )
            .catch(() => undefined); // unconfirmed, the publisher logs it after its timeout
        }
      } catch {
        this.logger.warn('ignored a malformed change notification');
      }
    });
    client.on('error', () => this.drop(client, 'connection error'));
    client.on('end', () => this.drop(client, 'connection closed'));
    try {
      await client.connect();
      pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await client.query(
        `LISTEN ${CHANNEL}; LISTEN ${ackChannel(pid)}; LISTEN ${heartbeatChannel(pid)}; SET application_name = '${LISTENER_NAME}'`,
      );
      if (this.client !== client) return; // dropped meanwhile
      this.pid = pid;
      this.heartbeatTimer = setInterval(
        () => this.heartbeat(),
        this.config.changeFeedHeartbeatMs,
      ).unref();
      // Up once this comes back (usually before the query answers): notifications flow again.
      await this.sendHeartbeat(client, pid);
    } catch (error) {
      if (this.client === client)
        this.logger.error({ err: error }, 'change feed could not connect');
      this.drop(client, 'could not connect');
    }
  }
}

@Global()
@Module({ providers: [ChangeFeed], exports: [ChangeFeed] })
export class ChangeFeedModule {}
