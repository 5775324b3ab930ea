import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { npm, registryUnreachable } from '../support/npm.js';
import { killAllSpawned } from '../support/spawned-process.js';
import { packLibrary } from './library-tarball.js';
import { hostManifest, rootLockfile, writeHostPackage } from './scratch-host.js';

/**
 * Issue 10: an app on TypeORM 0.3 cannot install the library (its peer range
 * is `typeorm@^1.0.0`): npm refuses at install time, naming the range, rather
 * than installing a second TypeORM or failing at run time. npm needs
 * typeorm's registry metadata to decide, which `npm ci` does not cache, so
 * this is the one packaging test that may ask the registry (`--prefer-offline`);
 * `--dry-run` downloads no tarball.
 */
describe('an app on TypeORM 0.3', () => {
  const work = mkdtempSync(join(tmpdir(), 'wxtoken-peer-'));
  const host = join(work, 'host');
  let tarball = '';

  beforeAll(async () => {
    tarball = await packLibrary(work);
  }, 120_000);

  afterAll(() => {
    killAllSpawned();
    rmSync(work, { recursive: true, force: true });
  });

  it('is refused by npm at install time with ERESOLVE on the library’s typeorm peer range', async () => {
    mkdirSync(host);
    writeHostPackage(host, hostManifest(rootLockfile(), { typeorm: '0.3.31' }));

    const result = await npm(['install', '--prefer-offline', '--dry-run', tarball], {
      cwd: host,
      timeoutMs: 100_000,
    });

    const unreachable = registryUnreachable(result);
    if (unreachable && !result.stderr.includes('ERESOLVE')) {
      throw new Error(
        `npm could not reach the registry (${unreachable}); this test needs typeorm's metadata from it`,
      );
    }
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('code ERESOLVE');
    expect(result.stderr).toContain('Found: typeorm@0.3.31');
    expect(result.stderr).toMatch(
      /Could not resolve dependency:\s+npm (?:error|ERR!) peer typeorm@"\^1\.0\.0" from nestjs-wechat-token@/,
    );
    expect(existsSync(join(host, 'node_modules'))).toBe(false);
  }, 120_000);
});
