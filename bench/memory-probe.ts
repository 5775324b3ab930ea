/**
 * Child process of the memory part (run with --expose-gc): boots the module
 * with the accounts listed in the JSON file argv[2] on the database
 * BENCH_DATABASE_URL (tokens already stored, so nothing is fetched), lets it
 * settle, collects garbage, and prints its memory as one JSON line.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanupAll } from './support/cleanup.js';
import { ModuleApp } from './support/module-app.js';

async function main(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const accounts = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const app = await ModuleApp.start({
    databaseUrl: process.env.BENCH_DATABASE_URL!,
    accounts,
    // Never called: every account has a fresh stored token.
    apiBaseUrl: 'http://127.0.0.1:9',
  });
  await app.settle();
  const usable = accounts.filter((a: { appId: string }) => app.service.hasUsableToken(a.appId)).length;
  await sleep(200);
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(50);
  }
  const memory = process.memoryUsage();
  console.log(
    JSON.stringify({
      accounts: accounts.length,
      usable,
      heapUsed: memory.heapUsed,
      rss: memory.rss,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      problems: app.logger.problems.length,
    }),
  );
  await cleanupAll();
}

main().catch(async (error: unknown) => {
  console.error(error);
  await cleanupAll();
  process.exit(1);
});
