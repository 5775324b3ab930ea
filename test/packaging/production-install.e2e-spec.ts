import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { WechatSandbox } from 'nestjs-wechat-token/testing';
import { freePort, sleep } from '../support/cluster.js';
import { createTestDatabase } from '../support/database.js';
import { metadataFreeCache, npm, npmFailure, withRegistryResolved, type Lockfile } from '../support/npm.js';
import { leakedSecrets } from '../support/leaks.js';
import { killAllSpawned, SpawnedProcess } from '../support/spawned-process.js';
import { ROOT, rootLockfile } from './scratch-host.js';

/** What a production install must not bring (README: "no Jest, no ESLint"). */
const DEV_TOOLING = [
  'jest',
  'ts-jest',
  '@nestjs/testing',
  '@jest/globals',
  'eslint',
  'prettier',
  'supertest',
];

/**
 * What a deployment holds after `npm run build`: the repository's tracked
 * files as they are in the work tree, and the two dist/ folders. The
 * lockfile gets tarball URLs (see `withRegistryResolved`) so that the
 * offline install needs no registry metadata.
 */
function copyDeployment(target: string): void {
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0');
  for (const file of tracked) {
    if (file === '' || !existsSync(join(ROOT, file))) continue;
    mkdirSync(dirname(join(target, file)), { recursive: true });
    cpSync(join(ROOT, file), join(target, file));
  }
  for (const built of ['dist', 'packages/nestjs-wechat-token/dist']) {
    cpSync(join(ROOT, built), join(target, built), { recursive: true });
  }
  const lock: Lockfile = withRegistryResolved(rootLockfile());
  writeFileSync(join(target, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
}

/** Why a package is in a production install although the root lists it as a devDependency. */
function whyInstalled(name: string, lock: Lockfile): string {
  const entry = lock.packages[`node_modules/${name}`];
  const peerOf = Object.entries(lock.packages)
    .filter(([, other]) => !other.dev && other.peerDependenciesMeta?.[name]?.optional)
    .map(([path]) => path.replace(/^.*node_modules\//, ''));
  const flag = entry?.devOptional ? 'devOptional' : entry?.dev ? 'dev' : 'prod';
  return `${name} (${flag}${peerOf.length ? `; optional peer of ${peerOf.join(', ')}` : ''})`;
}

/** Polls `url` until it answers 200; rejects if `server` ends or `timeoutMs` passes first. */
async function waitForOk(url: string, server: SpawnedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (server.exit) throw new Error(`the server exited (${JSON.stringify(server.exit)}):\n${server.tail()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(200);
  }
  throw new Error(`${url} was not 200 within ${timeoutMs} ms (last: ${last}):\n${server.tail()}`);
}

/**
 * Issue 10: the server as README's deployment steps leave it: built, then
 * `npm ci --omit=dev` in a copy of the repository, started with `npm start`.
 */
describe('the server from `npm ci --omit=dev`', () => {
  const work = mkdtempSync(join(tmpdir(), 'wxtoken-deploy-'));
  const deployment = join(work, 'app');
  let installed = false;

  afterAll(() => {
    killAllSpawned();
    rmSync(work, { recursive: true, force: true });
  });

  it('installs offline from the lockfile, without dev tooling', async () => {
    copyDeployment(deployment);
    const cache = metadataFreeCache(join(work, 'npm-cache'));
    const ci = await npm(['ci', '--omit=dev', '--offline'], { cwd: deployment, cache, timeoutMs: 100_000 });
    expect(ci.code === 0 || npmFailure('npm ci --omit=dev --offline', ci)).toBe(true);
    installed = true;

    const present = DEV_TOOLING.filter((name) => existsSync(join(deployment, 'node_modules', name)));
    expect(present.map((name) => whyInstalled(name, rootLockfile()))).toEqual([]);
    // The one known exception (README, Production): npm keeps a devDependency that a
    // production package names as an optional peer (npm/cli#6282).
    expect(whyInstalled('typescript', rootLockfile())).toBe(
      'typescript (devOptional; optional peer of @nestjs/swagger)',
    );
  }, 120_000);

  it('starts with `npm start`, serves a token WeChat accepts and the admin page, and shuts down cleanly on SIGTERM', async () => {
    if (!installed) throw new Error('the deployment has no node_modules: the install failed');
    const account = WechatSandbox.randomAccount();
    const sandbox = new WechatSandbox({ accounts: [account] });
    const sandboxUrl = await sandbox.start();
    try {
      const adminToken = randomBytes(24).toString('hex');
      const port = await freePort();
      const server = SpawnedProcess.start('npm', ['start'], {
        cwd: deployment,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NO_COLOR: '1',
          DATABASE_URL: await createTestDatabase('deploy'),
          WECHAT_ACCOUNTS: `${account.appId}:${account.secret}`,
          WECHAT_API_BASE_URL: sandboxUrl,
          ADMIN_TOKEN: adminToken,
          HOST: '127.0.0.1',
          PORT: String(port),
        },
      });
      const baseUrl = `http://127.0.0.1:${port}`;
      await waitForOk(`${baseUrl}/health`, server, 45_000);

      const query = new URLSearchParams({
        grant_type: 'client_credential',
        appid: account.appId,
        secret: account.secret,
      });
      const response = await fetch(`${baseUrl}/cgi-bin/token?${query}`);
      const body = (await response.json()) as { access_token?: string; expires_in?: number };
      expect(response.status).toBe(200);
      expect(body.expires_in).toBeGreaterThan(0);
      const token = body.access_token ?? '';
      expect(sandbox.tokenState(token)).toBe('live');
      expect(sandbox.fetchCount(account.appId)).toBe(1);

      // The admin page's files came with dist/ (npm run build copies them there).
      const page = await fetch(`${baseUrl}/admin/ui/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<script type="module" src="app.js"></script>');
      expect((await fetch(`${baseUrl}/admin/ui/app.js`)).status).toBe(200);

      // The whole process group, as systemd or a terminal signals it: npm runs the script through
      // `sh -c`, and dash neither execs node nor passes a signal on, so SIGTERM to npm alone
      // (what `docker stop` does to PID 1) would end the shell and leave the server running.
      const exit = await server.stop('SIGTERM', { group: true });
      expect(server.killed).toBe(false);
      expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
      expect(server.stdout).toMatch(/SIGTERM received: shutting down[^]*\bStopped\b/);
      const secrets = { AppSecret: account.secret, ADMIN_TOKEN: adminToken, access_token: token };
      expect(leakedSecrets({ output: server.output }, secrets)).toEqual([]);
    } finally {
      await sandbox.stop();
    }
  }, 90_000);
});
