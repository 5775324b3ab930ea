import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { resealStoredValues, SecretBox, WECHAT_TOKEN_MIGRATIONS } from 'nestjs-wechat-token';
import { createTestDatabase, queryDatabase, runMigrations } from './support/database.js';
import { ManualClock } from './support/manual-clock.js';
import { ModuleFixture } from './support/module-fixture.js';

/** What `access_token.token_digest` holds: the SHA-256 of the token's plain text. */
function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Runs `work` with a DataSource on the database at `url` (no migrations). */
async function withDataSource<T>(url: string, work: (dataSource: DataSource) => Promise<T>): Promise<T> {
  const dataSource = new DataSource({ type: 'postgres', url, migrations: WECHAT_TOKEN_MIGRATIONS });
  await dataSource.initialize();
  try {
    return await work(dataSource);
  } finally {
    await dataSource.destroy();
  }
}

// The pass-through heals a client's old token: it must tell a token the center
// issued (any age, any account) from one it did not, by its digest in the table.
describe('issued access_tokens: access_token.token_digest (Postgres + sandbox)', () => {
  let fixture: ModuleFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('stores the digest of each token (sealed or not) and traces any of them to its row', async () => {
    const clock = new ManualClock();
    fixture = await ModuleFixture.start({
      clock,
      sandbox: { lifetimeSeconds: 7200 },
      module: { encryptionKeys: { current: randomBytes(32) } },
    });
    const tokens = [await fixture.service.getAccessToken()];
    for (let i = 0; i < 3; i++) {
      clock.advance(6700);
      await fixture.scheduler.tick();
      tokens.push(await fixture.service.getAccessToken());
    }
    expect(new Set(tokens).size).toBe(4);

    const rows = await fixture.query<{ id: string; access_token: string; token_digest: Buffer }>(
      'SELECT id, access_token, token_digest FROM access_token ORDER BY id',
    );
    // Sealed at rest, the digest still of the plain text.
    expect(rows.every((row) => row.access_token.startsWith('wtk1.'))).toBe(true);
    expect(rows.map((row) => row.token_digest)).toEqual(tokens.map(sha256));

    const [oldest, , replaced, current] = tokens;
    const ids = rows.map((row) => String(row.id));
    const service = fixture.service;
    expect(await service.issuedAccessToken(current)).toEqual({
      appId: fixture.appId,
      tokenId: ids[3],
      current: true,
    });
    expect(await service.issuedAccessToken(replaced)).toEqual({
      appId: fixture.appId,
      tokenId: ids[2],
      current: false,
    });
    // Three generations old: only the table knows it.
    expect(await service.issuedAccessToken(oldest)).toEqual({
      appId: fixture.appId,
      tokenId: ids[0],
      current: false,
    });
    expect(await service.issuedAccessToken(`${current.slice(0, -4)}XXXX`)).toBeUndefined();

    // A fresh replica holds only the current token: the others come from the table.
    await fixture.restart();
    await fixture.settle();
    expect(await fixture.service.issuedAccessToken(replaced)).toEqual({
      appId: fixture.appId,
      tokenId: ids[2],
      current: false,
    });
    expect(await fixture.service.issuedAccessToken(current)).toMatchObject({
      tokenId: ids[3],
      current: true,
    });
  });

  it('finds the newest row when several have the digest, through the index', async () => {
    fixture = await ModuleFixture.start();
    const token = await fixture.service.getAccessToken();
    // A copy of the row under another account (a restored backup, say): the newer row wins.
    const [copy] = await fixture.query<{ id: string }>(
      `INSERT INTO access_token (app_id, access_token, fetched_at, expires_at, source, mode, token_digest)
       SELECT 'wx00000000000000ff', access_token, fetched_at, expires_at, source, mode, token_digest
       FROM access_token RETURNING id`,
    );
    await fixture.restart();
    await fixture.settle();
    // Held in memory: this replica's own row.
    expect(await fixture.service.issuedAccessToken(token)).toMatchObject({ appId: fixture.appId });
    fixture.service.removeAccount(fixture.appId);
    expect(await fixture.service.issuedAccessToken(token)).toEqual({
      appId: 'wx00000000000000ff',
      tokenId: String(copy.id),
      current: false,
    });

    // The store's query, where a scan of this two-row table is ruled out: the partial index serves it.
    const client = new pg.Client({ connectionString: fixture.databaseUrl });
    await client.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const plan = await client.query<{ 'QUERY PLAN': string }>(
        'EXPLAIN SELECT id, app_id FROM access_token WHERE token_digest = $1 ORDER BY id DESC LIMIT 1',
        [sha256(token)],
      );
      expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toContain('access_token_token_digest_idx');
    } finally {
      await client.end();
    }
  });

  it('the migration fills in the digest of plain rows, leaves sealed ones NULL, and is undone by down()', async () => {
    const url = await createTestDatabase('digest');
    const before = WECHAT_TOKEN_MIGRATIONS.filter(
      (migration) => migration.name !== 'AddTokenDigest1765200000000',
    );
    expect(before).toHaveLength(WECHAT_TOKEN_MIGRATIONS.length - 1);
    await runMigrations(url, before);
    const appId = 'wx0000000000000001';
    const key = randomBytes(32);
    const plain = 'plain-token-stored-before-keys-were-set-0001';
    const sealedPlain = 'sealed-token-stored-before-the-digest-0002';
    // Sealed as the store seals a token: bound to its table and account.
    const sealed = new SecretBox({ current: key }).seal(sealedPlain, `access_token:${appId}`);
    await queryDatabase(
      url,
      `INSERT INTO access_token (app_id, access_token, fetched_at, expires_at, source, mode)
       VALUES ($1, $2, now(), now() + interval '2 hours', 'schedule', 'token'),
              ($1, $3, now(), now() + interval '2 hours', 'schedule', 'token')`,
      [appId, plain, sealed],
    );

    await runMigrations(url, WECHAT_TOKEN_MIGRATIONS);
    const digests = async () =>
      (
        await queryDatabase<{ token_digest: Buffer | null }>(
          url,
          'SELECT token_digest FROM access_token ORDER BY id',
        )
      ).map((row) => row.token_digest);
    expect(await digests()).toEqual([sha256(plain), null]);
    const indexes = () =>
      queryDatabase<{ indexdef: string }>(
        url,
        `SELECT indexdef FROM pg_indexes WHERE indexname = 'access_token_token_digest_idx'`,
      );
    expect((await indexes())[0]?.indexdef).toMatch(/\(token_digest\) WHERE \(token_digest IS NOT NULL\)/);

    // A key rotation re-seals both rows: the plain row's digest stays, the sealed one's is filled in.
    const resealed = await withDataSource(url, (dataSource) =>
      resealStoredValues(dataSource, { current: randomBytes(32), previous: key }),
    );
    expect(resealed.tokens).toBe(2);
    expect(await digests()).toEqual([sha256(plain), sha256(sealedPlain)]);

    await withDataSource(url, (dataSource) => dataSource.undoLastMigration());
    expect(await indexes()).toEqual([]);
    const columns = await queryDatabase<{ column_name: string }>(
      url,
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'access_token' AND column_name = 'token_digest'`,
    );
    expect(columns).toEqual([]);
  });
});
