import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { WechatSandbox } from 'nestjs-wechat-token/testing';
import { freePort } from '../support/cluster.js';
import { createTestDatabase, queryDatabase } from '../support/database.js';
import { metadataFreeCache, npm, npmFailure, registryUnreachable, treeSize } from '../support/npm.js';
import { leakedSecrets } from '../support/leaks.js';
import { killAllSpawned, runCommand, SpawnedProcess } from '../support/spawned-process.js';
import { packLibrary, unpackTarball } from './library-tarball.js';
import { writeScratchHost } from './scratch-host.js';

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];
const MAX_GROWTH_BYTES = 2 * 1024 * 1024;

interface PackedManifest {
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Every file a manifest points at (`main`, `types`, `bin`, `exports`), normalised like the tarball's paths. */
function entryPoints(manifest: PackedManifest): string[] {
  const targets = [
    manifest.main,
    manifest.types,
    ...Object.values(manifest.bin ?? {}),
    ...Object.values(manifest.exports ?? {}).flatMap((target) =>
      typeof target === 'string' ? [target] : Object.values(target),
    ),
  ];
  return targets.filter((target) => target !== undefined).map((target) => posix.normalize(target));
}

/**
 * Issue 10: the library as a new user gets it. `npm pack` (what `npm publish`
 * uploads) is installed into an existing Nest 12 app — a scratch folder with
 * examples/host-app's dependencies, their lockfile and its sources — which
 * is then compiled under a strict tsconfig and run against a WeChat sandbox.
 */
describe('the packed library in an existing Nest 12 app', () => {
  const work = mkdtempSync(join(tmpdir(), 'wxtoken-packaging-'));
  const host = join(work, 'host');
  let tarball = '';
  let files: string[] = [];
  let manifest: PackedManifest = {};
  let installed = false;

  beforeAll(async () => {
    tarball = await packLibrary(work);
    files = await unpackTarball(tarball, join(work, 'unpacked'));
    manifest = JSON.parse(
      readFileSync(join(work, 'unpacked/package/package.json'), 'utf8'),
    ) as PackedManifest;
  }, 120_000);

  afterAll(() => {
    killAllSpawned();
    rmSync(work, { recursive: true, force: true });
  });

  it('packs dist/, package.json, README.md and LICENSE only: no specs, no install scripts, maps with their sources', () => {
    expect(files.filter((file) => !file.startsWith('dist/'))).toEqual([
      'LICENSE',
      'README.md',
      'package.json',
    ]);
    expect(files.filter((file) => /\.spec\.|\.e2e-spec\.|\.fake\.|tsbuildinfo/.test(file))).toEqual([]);
    expect(INSTALL_SCRIPTS.filter((script) => manifest.scripts?.[script] !== undefined)).toEqual([]);
    expect(entryPoints(manifest).filter((target) => !files.includes(target))).toEqual([]);

    // A map without its sources points a debugger at src/, which the tarball does not have.
    const mapsWithoutSources = files
      .filter((file) => file.endsWith('.map'))
      .filter((file) => {
        const map = JSON.parse(readFileSync(join(work, 'unpacked/package', file), 'utf8')) as {
          sources: string[];
          sourcesContent?: (string | null)[];
        };
        return (
          map.sourcesContent?.length !== map.sources.length || map.sourcesContent.some((s) => s === null)
        );
      });
    expect(mapsWithoutSources).toEqual([]);
  });

  it('installs from the npm cache: one package added (< 2 MB), the host’s copy of every shared package used', async () => {
    mkdirSync(host);
    writeScratchHost(host);
    // The app as it was before: installed from its lockfile alone, as CI would (no registry metadata cached).
    const cache = metadataFreeCache(join(work, 'npm-cache'));
    const ci = await npm(['ci', '--offline'], { cwd: host, cache, timeoutMs: 100_000 });
    expect(ci.code === 0 || npmFailure('npm ci --offline (the host)', ci)).toBe(true);
    const before = treeSize(join(host, 'node_modules'));

    // `npm install nestjs-wechat-token`. npm reads the peers' packuments to place the new package's
    // peer set even when the host already holds them (arborist's #loadPeerSet fetches full manifests),
    // and `npm ci` caches none, so metadata may come from the registry; tarballs must all come from
    // the cache, and only one package may be added.
    const install = await npm(['install', '--prefer-offline', '--json', '--loglevel', 'http', tarball], {
      cwd: host,
      timeoutMs: 100_000,
    });
    const unreachable = install.code !== 0 && registryUnreachable(install);
    if (unreachable) {
      throw new Error(`npm install could not reach the registry for the peers' metadata (${unreachable})`);
    }
    expect(install.code === 0 || npmFailure('npm install <tarball>', install)).toBe(true);
    installed = true;
    const summary = JSON.parse(install.stdout) as { add: { name: string }[] };
    expect(summary.add.map((added) => added.name)).toEqual(['nestjs-wechat-token']);
    const downloads = install.stderr.split('\n').filter((line) => /http fetch GET \S+ \S+\.tgz/.test(line));
    expect(downloads).toEqual([]);
    const growth = treeSize(join(host, 'node_modules')) - before;
    expect(growth).toBeLessThan(MAX_GROWTH_BYTES);

    // One copy of each peer (@nestjs/common, @nestjs/core, @nestjs/schedule, @nestjs/typeorm, typeorm,
    // rxjs...) and of cron, whose CronJob the library hands to @nestjs/schedule's registry.
    const shared = [
      ...Object.keys(manifest.peerDependencies ?? {}),
      ...Object.keys(manifest.dependencies ?? {}),
    ];
    const query = await npm(['query', '*'], { cwd: host, timeoutMs: 30_000 });
    const nodes = JSON.parse(query.stdout) as { name: string; location: string }[];
    const copies = Object.fromEntries(
      shared.map((name) => [name, nodes.filter((n) => n.name === name).map((n) => n.location)]),
    );
    expect(copies).toEqual(Object.fromEntries(shared.map((name) => [name, [`node_modules/${name}`]])));
  }, 120_000);

  it('loads with require() from CommonJS too (Node’s require(esm): the library has no top-level await)', async () => {
    if (!installed) throw new Error('the host has no library: the install failed');
    const script = [
      "const lib = require('nestjs-wechat-token');",
      "const testing = require('nestjs-wechat-token/testing');",
      'console.log(typeof lib.WechatTokenModule, typeof testing.WechatSandbox);',
    ].join(' ');
    const node = await runCommand(process.execPath, ['--input-type=commonjs', '-e', script], {
      cwd: host,
      env: { PATH: process.env.PATH },
      timeoutMs: 30_000,
    });
    expect({ code: node.code, out: node.stdout.trim() }).toEqual({ code: 0, out: 'function function' });
  }, 60_000);

  it('type-checks with the host’s strict tsconfig (exactOptionalPropertyTypes, skipLibCheck: false)', async () => {
    if (!installed) throw new Error('the host has no library: the install failed');
    const tsc = await runCommand(
      process.execPath,
      [join(host, 'node_modules/typescript/bin/tsc'), '-p', host],
      {
        cwd: host,
        env: { PATH: process.env.PATH },
        timeoutMs: 100_000,
      },
    );
    // tsc emits despite type errors, so the next test runs whatever this one reports.
    expect({ code: tsc.code, errors: tsc.stdout.trim() }).toEqual({ code: 0, errors: '' });
  }, 120_000);

  it('starts, calls WeChat with a token it got through the module, and ends on SIGTERM', async () => {
    if (!existsSync(join(host, 'dist/main.js'))) throw new Error('the host was not compiled');
    const account = WechatSandbox.randomAccount();
    const sandbox = new WechatSandbox({ accounts: [account] });
    const sandboxUrl = await sandbox.start();
    try {
      const databaseUrl = await createTestDatabase('host');
      const app = SpawnedProcess.start(process.execPath, ['dist/main.js'], {
        cwd: host,
        env: {
          PATH: process.env.PATH,
          NO_COLOR: '1',
          DATABASE_URL: databaseUrl,
          WECHAT_APP_ID: account.appId,
          WECHAT_APP_SECRET: account.secret,
          WECHAT_API_BASE_URL: sandboxUrl,
          PORT: String(await freePort()),
        },
      });
      const [, url] = await app.waitForOutput(/host app on (http:\/\/\S+)/, 30_000);

      const response = await fetch(`${url}/wechat/api-ips/sync`, { method: 'POST' });
      const body = (await response.json()) as { appId?: string; ipList?: string[] };
      expect(response.status).toBe(201);
      expect(body.appId).toBe(account.appId);
      expect(body.ipList?.length).toBeGreaterThan(0);

      // The sandbox answered get_api_domain_ip, so it accepted the token: the one token the
      // module fetched, stored in the host's database, and still live.
      const token = sandbox.latestToken(account.appId);
      expect(sandbox.fetchCount(account.appId)).toBe(1);
      const rows = await queryDatabase(databaseUrl, 'SELECT access_token FROM access_token');
      expect(rows).toEqual([{ access_token: token }]);
      expect(sandbox.tokenState(token ?? '')).toBe('live');

      // Nest's shutdown hooks close the app, then re-raise the signal.
      const exit = await app.stop('SIGTERM');
      expect(app.killed).toBe(false);
      expect(exit.code === 0 || exit.signal === 'SIGTERM' || app.tail()).toBe(true);
      expect(app.stderr).toBe('');
      expect(
        leakedSecrets({ output: app.output }, { AppSecret: account.secret, access_token: token ?? '' }),
      ).toEqual([]);
    } finally {
      await sandbox.stop();
    }
  }, 90_000);
});
