import type { LockEntry, Lockfile } from '../support/npm.js';

/** A package.json's name and dependency lists. */
export interface HostManifest {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/**
 * The lockfile an app with `manifest`'s dependencies would have, cut out of
 * `rootLock`: the closure of those dependencies over its `packages` map, each
 * entry kept as it is (path, version, resolved, integrity, dependencies...)
 * minus the dev/peer/optional flags, which describe the root project's tree.
 */
export function hostLockfile(rootLock: Lockfile, manifest: HostManifest): Lockfile {
  const { packages } = rootLock;
  const kept = new Set<string>();
  const queue: string[] = [];
  const need = (from: string, name: string, optional: boolean) => {
    const path = resolveFrom(packages, from, name);
    if (path === undefined) {
      if (optional) return;
      throw new Error(`${name} (needed by ${from || 'the host'}) is not in the root package-lock.json`);
    }
    if (!kept.has(path)) {
      kept.add(path);
      queue.push(path);
    }
  };
  for (const name of [...Object.keys(manifest.dependencies), ...Object.keys(manifest.devDependencies)]) {
    need('', name, false);
  }
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    const entry = packages[path];
    for (const name of Object.keys(entry.dependencies ?? {})) need(path, name, false);
    for (const name of Object.keys(entry.optionalDependencies ?? {})) need(path, name, true);
    for (const name of Object.keys(entry.peerDependencies ?? {})) {
      if (!entry.peerDependenciesMeta?.[name]?.optional) need(path, name, false);
    }
  }

  const hostPackages: Record<string, LockEntry> = {
    '': {
      name: manifest.name,
      version: manifest.version,
      dependencies: manifest.dependencies,
      devDependencies: manifest.devDependencies,
    },
  };
  for (const path of [...kept].sort()) {
    const { dev: _dev, peer: _peer, devOptional: _devOptional, ...entry } = packages[path];
    hostPackages[path] = entry;
  }
  return {
    name: manifest.name,
    version: manifest.version,
    lockfileVersion: 3,
    requires: true,
    packages: hostPackages,
  };
}

/**
 * Where Node finds `name` from the package at `from`: `<from>/node_modules/<name>`,
 * then the same in each enclosing package, up to the top-level `node_modules/<name>`.
 */
function resolveFrom(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const path = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[path]) return path;
    if (base === '') return undefined;
    const parent = base.lastIndexOf('/node_modules/');
    base = parent < 0 ? '' : base.slice(0, parent);
  }
}
