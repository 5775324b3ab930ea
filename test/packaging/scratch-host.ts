import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withRegistryResolved, type Lockfile } from '../support/npm.js';
import { hostLockfile, type HostManifest } from './host-lockfile.js';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE = join(ROOT, 'examples/host-app');

/** What examples/host-app imports, and what it needs to compile. */
const HOST_DEPENDENCIES = [
  '@nestjs/axios',
  '@nestjs/common',
  '@nestjs/config',
  '@nestjs/core',
  '@nestjs/platform-fastify',
  '@nestjs/schedule',
  '@nestjs/typeorm',
  'axios',
  'pg',
  'reflect-metadata',
  'rxjs',
  'typeorm',
];
const HOST_DEV_DEPENDENCIES = ['@types/node', 'typescript'];

/**
 * A strict host: NodeNext, decorators with metadata, `exactOptionalPropertyTypes`,
 * and `skipLibCheck: false`, so Nest's, TypeORM's and the library's
 * declaration files are type-checked too, as in the strictest app.
 */
const HOST_TSCONFIG = {
  compilerOptions: {
    target: 'ES2023',
    lib: ['ES2023'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    types: ['node'],
    strict: true,
    exactOptionalPropertyTypes: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: false,
    rootDir: 'src',
    outDir: 'dist',
  },
  include: ['src'],
};

/** The root package-lock.json. */
export function rootLockfile(): Lockfile {
  return JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lockfile;
}

/**
 * The host's package.json: the example's dependencies at the versions the
 * root lockfile holds (`overrides` replaces some, e.g. `{ typeorm: '0.3.31' }`).
 */
export function hostManifest(rootLock: Lockfile, overrides: Record<string, string> = {}): HostManifest {
  const pinned = (names: string[]) =>
    Object.fromEntries(
      names.map((name) => {
        const version = overrides[name] ?? rootLock.packages[`node_modules/${name}`]?.version;
        if (!version) throw new Error(`${name} is not in the root package-lock.json`);
        return [name, version];
      }),
    );
  return {
    name: 'scratch-host',
    version: '1.0.0',
    dependencies: pinned(HOST_DEPENDENCIES),
    devDependencies: pinned(HOST_DEV_DEPENDENCIES),
  };
}

/** Writes package.json (an ESM app) to `dir`, and the lockfile when one is given. */
export function writeHostPackage(dir: string, manifest: HostManifest, lock?: Lockfile): void {
  const packageJson = { ...manifest, private: true, type: 'module' };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(packageJson, null, 2)}\n`);
  if (lock) writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
}

/**
 * An existing Nest 12 app in `dir`, not installed yet: package.json, the
 * lockfile it would have (cut from the root one, with tarball URLs so
 * `npm ci --offline` needs no registry metadata), examples/host-app's
 * sources (its e2e spec left out) in src/, and a strict tsconfig.json.
 */
export function writeScratchHost(dir: string): void {
  const rootLock = rootLockfile();
  const manifest = hostManifest(rootLock);
  writeHostPackage(dir, manifest, withRegistryResolved(hostLockfile(rootLock, manifest)));
  cpSync(EXAMPLE, join(dir, 'src'), {
    recursive: true,
    filter: (source) =>
      statSync(source).isDirectory() || (source.endsWith('.ts') && !source.endsWith('.e2e-spec.ts')),
  });
  writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify(HOST_TSCONFIG, null, 2)}\n`);
}

/** Every file under `dir`, relative to it. */
export function listFiles(dir: string, under = dir): string[] {
  return readdirSync(under, { withFileTypes: true }).flatMap((entry) => {
    const path = join(under, entry.name);
    return entry.isDirectory() ? listFiles(dir, path) : [relative(dir, path)];
  });
}
