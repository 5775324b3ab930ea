import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import type { Env } from './parse-server-config.js';

/**
 * The environment with a `.env` file's variables added underneath: a variable
 * set in the real environment wins over the file. A missing file adds nothing.
 */
export function withEnvFile(env: Env, path: string): Env {
  if (!existsSync(path)) return { ...env };
  const fromFile = parseEnv(readFileSync(path, 'utf8'));
  const merged: Env = { ...fromFile };
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined) merged[name] = value;
  }
  return merged;
}
