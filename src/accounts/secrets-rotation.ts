import { resealStoredValues, SecretBox } from 'nestjs-wechat-token';
import type { DataSource } from 'typeorm';
import type { AdminActor, AuditLog } from '../audit/audit-log.js';
import type { SecretsKeys } from '../config/server-config.js';
import { RUNTIME_CHANNEL } from '../runtime-sync/runtime-sync.service.js';
import { secretContext } from './account-registry.js';

/** What a rotation re-sealed. */
export interface RotationResult {
  /** AppSecrets of API accounts. */
  accounts: number;
  tokens: number;
  tickets: number;
  /** The id of the key everything is now sealed under. */
  keyId: string;
}

/** Who the audit names for a rotation run from the command line. */
export const ROTATION_ACTOR: AdminActor = { keyName: 'secrets:rotate', ip: 'local' };

/**
 * Re-seals under `keys.current` every value sealed under another key (or,
 * for tokens and tickets, stored in plain text before SECRETS_KEY was set):
 * the AppSecrets of `wechat_account` (replicas re-read them), then the
 * token and ticket history. Run once every replica has the new key (see the
 * README's rotation steps); a value under neither key stops it with an
 * error naming the key id. Leaves an audit row.
 */
export async function rotateSecrets(
  dataSource: DataSource,
  keys: SecretsKeys,
  audit: AuditLog,
  actor: AdminActor = ROTATION_ACTOR,
): Promise<RotationResult> {
  const box = new SecretBox(keys);
  const accounts = await dataSource.transaction(async (manager) => {
    const rows: { app_id: string; secret_sealed: string }[] = await manager.query(
      `SELECT app_id, secret_sealed FROM wechat_account
       WHERE secret_sealed IS NOT NULL AND secret_key_id <> $1 FOR UPDATE`,
      [box.currentKeyId],
    );
    for (const row of rows) {
      const context = secretContext(row.app_id);
      await manager.query(
        `UPDATE wechat_account SET secret_sealed = $2, secret_key_id = $3, updated_at = clock_timestamp()
         WHERE app_id = $1`,
        [row.app_id, box.seal(box.open(row.secret_sealed, context), context), box.currentKeyId],
      );
    }
    if (rows.length > 0) await manager.query('SELECT pg_notify($1, $2)', [RUNTIME_CHANNEL, 'accounts']);
    return rows.length;
  });
  const stored = await resealStoredValues(dataSource, keys);
  const result = { accounts, ...stored, keyId: box.currentKeyId };
  await audit.record({ actor, action: 'secrets.rotate', target: 'secrets', details: { ...result } });
  return result;
}
