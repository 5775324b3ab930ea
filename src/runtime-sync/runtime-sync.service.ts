import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { describeError } from 'nestjs-wechat-token';
import type pg from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { SERVER_CONFIG, type ServerConfig } from '../config/server-config.js';

/** What changes at runtime, announced and re-read as a whole. */
export type RuntimeTopic = 'accounts' | 'clients';

/** The NOTIFY channel of runtime changes; the payload is the topic. */
export const RUNTIME_CHANNEL = 'wechat_token_runtime';

/**
 * Brings every replica up to date with what the admin API changes at
 * runtime (accounts, clients): each topic's reader runs on a NOTIFY from
 * the replica that wrote (at once), and every `RUNTIME_SYNC_MS` whatever
 * happened (a notification lost while the listener reconnected, or a write
 * made with plain SQL). Readers re-read their table and apply the
 * differences, so running one more time than needed costs a small query.
 */
@Injectable()
export class RuntimeSync implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('RuntimeSync');
  private readonly readers = new Map<RuntimeTopic, () => Promise<void>>();
  /** A read under way per topic, and whether another must follow it. */
  private readonly running = new Map<RuntimeTopic, Promise<void>>();
  private readonly again = new Set<RuntimeTopic>();
  /** Topics whose last background read failed (logged once until one succeeds). */
  private readonly failing = new Set<RuntimeTopic>();
  private timer?: NodeJS.Timeout;
  private listener?: pg.PoolClient;
  private retryTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(SERVER_CONFIG) private readonly config: ServerConfig,
  ) {}

  /** Whether the LISTEN connection is up now (while not, changes arrive by the periodic read). */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** Registers the reader of a topic (one per topic); it runs from the app's start on. */
  register(topic: RuntimeTopic, reader: () => Promise<void>): void {
    this.readers.set(topic, reader);
  }

  /**
   * Tells every replica that `topic` changed. Inside the writer's
   * transaction (`manager`), the notification goes out at its commit.
   * This replica's reader runs at once, not after a round trip.
   */
  async announce(topic: RuntimeTopic, manager?: EntityManager): Promise<void> {
    await (manager ?? this.dataSource.manager).query('SELECT pg_notify($1, $2)', [RUNTIME_CHANNEL, topic]);
    if (!manager) await this.read(topic);
  }

  /** Runs a topic's reader now (a read under way is followed by one more). */
  async read(topic: RuntimeTopic): Promise<void> {
    const reader = this.readers.get(topic);
    if (!reader) return;
    const running = this.running.get(topic);
    if (running) {
      this.again.add(topic);
      return running;
    }
    const run = (async () => {
      do {
        this.again.delete(topic);
        await reader();
      } while (this.again.has(topic));
    })();
    this.running.set(topic, run);
    try {
      await run;
    } finally {
      this.running.delete(topic);
    }
  }

  /**
   * A read nobody waits for. A failure is logged when it starts and when it
   * ends, not every `RUNTIME_SYNC_MS` while the database is away.
   */
  private async readInBackground(topic: RuntimeTopic): Promise<void> {
    try {
      await this.read(topic);
      if (this.failing.delete(topic)) this.logger.log(`Re-reading ${topic} works again.`);
    } catch (error) {
      if (!this.failing.has(topic)) {
        this.logger.warn(
          `Re-reading ${topic} failed: ${describeError(error)}; retrying every ${this.config.runtimeSyncMs} ms.`,
        );
      }
      this.failing.add(topic);
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    this.timer = setInterval(() => {
      for (const topic of this.readers.keys()) void this.readInBackground(topic);
    }, this.config.runtimeSyncMs);
    this.timer.unref();
    await this.listen();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      await listener.query(`UNLISTEN ${RUNTIME_CHANNEL}`).catch(() => undefined);
      listener.release();
    }
    await Promise.all([...this.running.values()].map((run) => run.catch(() => undefined)));
  }

  /** Holds one pooled connection in LISTEN; when it breaks, the periodic read covers until it is back. */
  private async listen(): Promise<void> {
    if (this.stopped) return;
    let client: pg.PoolClient | undefined;
    try {
      client = await (this.dataSource.driver as unknown as { master: pg.Pool }).master.connect();
      client.on('notification', (message) => {
        const topic = message.payload as RuntimeTopic;
        if (this.readers.has(topic)) void this.readInBackground(topic);
      });
      const connected = client;
      client.on('error', () => this.lost(connected));
      await client.query(`LISTEN ${RUNTIME_CHANNEL}`);
      if (this.stopped) return client.release();
      this.listener = client;
    } catch {
      this.lost(client);
    }
  }

  private lost(client: pg.PoolClient | undefined): void {
    if (client) {
      client.removeAllListeners('notification');
      client.removeAllListeners('error').on('error', () => undefined);
      if (this.listener === client) this.listener = undefined;
      try {
        client.release(true);
      } catch {
        // already released
      }
    }
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.listen();
    }, this.config.runtimeSyncMs);
    this.retryTimer.unref();
  }
}
