import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, type CommandResult } from './spawned-process.js';

/** What `package-lock.json` (lockfileVersion 3) holds; only the fields the tests read are typed. */
export interface Lockfile {
  name?: string;
  version?: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

/** One entry of a lockfile's `packages` map. */
export interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  peer?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

export interface NpmOptions {
  cwd: string;
  timeoutMs: number;
  /** `--cache` folder; default the user's npm cache. */
  cache?: string;
}

/**
 * The caller's environment minus what `npm test` adds: the parent npm's
 * `npm_*` variables (its config and local prefix would steer a child npm)
 * and Jest's NODE_OPTIONS.
 */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^npm_/i.test(key) && key !== 'NODE_OPTIONS' && key !== 'INIT_CWD',
    ),
  );
}

/** Runs `npm` from PATH with `--no-audit --no-fund`, in `npmEnv()`. */
export function npm(args: readonly string[], options: NpmOptions): Promise<CommandResult> {
  const cache = options.cache ? ['--cache', options.cache] : [];
  return runCommand('npm', [...args, '--no-audit', '--no-fund', '--no-update-notifier', ...cache], {
    cwd: options.cwd,
    env: npmEnv(),
    timeoutMs: options.timeoutMs,
  });
}

/** stdout and stderr of a failed npm call, for an assertion message. */
export function npmFailure(what: string, result: CommandResult): string {
  return `${what} exited ${result.code ?? result.signal}:\n${result.stderr.slice(-4000)}\n${result.stdout.slice(-2000)}`;
}

/** The network error code in npm's output when it could not reach the registry, if that is why it failed. */
export function registryUnreachable(result: CommandResult): string | undefined {
  return /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ENOTCACHED)\b/.exec(
    result.stderr,
  )?.[1];
}

/**
 * An npm cache holding the tarballs of the user's cache and no registry
 * metadata (packuments): what a fresh CI machine can count on after `npm ci`.
 * The content store is shared (a symlink; it is content-addressed, so npm
 * finds a tarball there by its lockfile `integrity`); the index starts empty.
 */
export function metadataFreeCache(dir: string): string {
  const userCache = execFileSync('npm', ['config', 'get', 'cache'], {
    encoding: 'utf8',
    env: npmEnv(),
  }).trim();
  mkdirSync(join(dir, '_cacache'), { recursive: true });
  symlinkSync(join(userCache, '_cacache', 'content-v2'), join(dir, '_cacache', 'content-v2'));
  return dir;
}

const REGISTRY = 'https://registry.npmjs.org/';

/**
 * The lockfile with a `resolved` tarball URL on every registry entry. The
 * root lockfile has none (it is written with `omit-lockfile-registry-resolved`),
 * and without one npm reads each package's packument to find its tarball even
 * with `--offline`; with one, it takes the tarball from the cache by integrity.
 */
export function withRegistryResolved(lock: Lockfile): Lockfile {
  const packages = Object.fromEntries(
    Object.entries(lock.packages).map(([path, entry]) => {
      const at = path.lastIndexOf('node_modules/');
      if (at < 0 || entry.resolved || entry.link || !entry.version || !entry.integrity) return [path, entry];
      const name = entry.name ?? path.slice(at + 'node_modules/'.length);
      const file = `${name.split('/').pop()}-${entry.version}.tgz`;
      return [path, { ...entry, resolved: `${REGISTRY}${name}/-/${file}` }];
    }),
  );
  return { ...lock, packages };
}

/** The apparent size in bytes of everything under `dir` (symlinks counted as links, not followed). */
export function treeSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? treeSize(path) : lstatSync(path).size;
  }
  return total;
}
