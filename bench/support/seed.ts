import { sql } from './postgres.js';

/**
 * Writes, for each account, `history` older tokens a planned period apart
 * and then its current token fetched at `fetchedAt[i]` (so the newest row
 * has the highest id), with one fetch-log row each: what a day of running
 * leaves behind. Then ANALYZE, so the planner sees real table sizes.
 */
export async function seedTokens(
  databaseUrl: string,
  appIds: string[],
  fetchedAtMs: number[],
  options: { lifetimeSeconds?: number; history?: number; periodSeconds?: number } = {},
): Promise<void> {
  const { lifetimeSeconds = 7200, history = 0, periodSeconds = 6600 } = options;
  const fetchedAt = fetchedAtMs.map((ms) => new Date(ms).toISOString());
  // age 0 is the current token; older ones first, so ids grow with time.
  await sql(
    databaseUrl,
    `INSERT INTO access_token (app_id, access_token, fetched_at, expires_at, source, mode, instance_id)
     SELECT a.app_id,
            substr(repeat(md5(random()::text), 5), 1, 136 + (random() * 24)::int),
            a.fetched_at - make_interval(secs => age * $4::int),
            a.fetched_at - make_interval(secs => age * $4::int) + make_interval(secs => $3::int),
            'schedule', 'token', 'bench-seed'
     FROM unnest($1::varchar[], $2::timestamptz[]) AS a(app_id, fetched_at)
     CROSS JOIN generate_series($5::int, 0, -1) AS age
     ORDER BY age DESC, a.app_id`,
    [appIds, fetchedAt, lifetimeSeconds, periodSeconds, history],
  );
  await sql(
    databaseUrl,
    `INSERT INTO token_fetch_attempt
       (app_id, attempted_at, endpoint, force_refresh, source, outcome, errcode, errmsg, latency_ms, instance_id, token_id)
     SELECT app_id, fetched_at, 'token', false, source, 'ok', NULL, NULL, 40, 'bench-seed', id
     FROM access_token ORDER BY id`,
  );
  await sql(databaseUrl, 'ANALYZE access_token');
  await sql(databaseUrl, 'ANALYZE token_fetch_attempt');
}
