import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { npm, npmFailure } from '../support/npm.js';
import { runCommand } from '../support/spawned-process.js';
import { listFiles, ROOT } from './scratch-host.js';

/**
 * `npm pack` of the library into `destination` (its `prepack` builds it
 * first), as `npm publish` would upload it. Resolves to the tarball's path.
 */
export async function packLibrary(destination: string): Promise<string> {
  const result = await npm(
    ['pack', '--workspace', 'nestjs-wechat-token', '--pack-destination', destination],
    {
      cwd: ROOT,
      timeoutMs: 100_000,
    },
  );
  if (result.code !== 0) throw new Error(npmFailure('npm pack', result));
  const tarballs = readdirSync(destination).filter((file) => file.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new Error(`npm pack left ${tarballs.join(', ') || 'no tarball'}`);
  return join(destination, tarballs[0]);
}

/** Unpacks a package tarball into `dir` (its files land in `dir/package/`) and lists them relative to that. */
export async function unpackTarball(tarball: string, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const result = await runCommand('tar', ['-xzf', tarball, '-C', dir], {
    cwd: dir,
    env: { PATH: process.env.PATH },
    timeoutMs: 30_000,
  });
  if (result.code !== 0) throw new Error(`tar -xzf ${tarball} failed: ${result.stderr}`);
  return listFiles(join(dir, 'package')).sort();
}
