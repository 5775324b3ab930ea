import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { describeError, TokenStoreUnavailableError } from 'nestjs-wechat-token';
import type { DataSource, EntityManager } from 'typeorm';
import { assertNoCredentials } from './audit-details.js';

/** Who made an admin write: the admin key's name (`ADMIN_TOKEN`, or a name of `ADMIN_TOKENS`) and the client's IP. */
export interface AdminActor {
  keyName: string;
  ip: string;
}

/** What an admin write did. */
export type AuditAction =
  | 'account.create'
  | 'account.update'
  | 'account.disable'
  | 'client.create'
  | 'client.update'
  | 'client.revoke'
  | 'token.refresh'
  | 'ticket.refresh'
  | 'quota.resume'
  | 'secrets.rotate';

/** One admin write as the audit records it. `details` never holds a secret, a key or a token. */
export interface AuditEntry {
  actor: AdminActor;
  action: AuditAction;
  /** What it was done to: an appId, a client id, `appId/jsapi`… */
  target: string;
  details?: Record<string, unknown>;
}

/** One row of `admin_audit` as `GET /admin/audit` shows it. */
export interface AuditRecord {
  id: string;
  at: string;
  adminKeyName: string;
  clientIp: string;
  action: AuditAction;
  target: string;
  details: Record<string, unknown>;
}

/** One page of the audit, newest first. */
export interface AuditPage {
  items: AuditRecord[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  nextBefore: string | null;
}

interface AuditRow {
  id: string;
  at: Date;
  admin_key_name: string;
  client_ip: string;
  action: AuditAction;
  target: string;
  details: Record<string, unknown>;
}

/**
 * The `admin_audit` table: every admin write, with the admin key's name,
 * the client's IP, what changed and when. Details that look like a
 * credential are refused (`AuditDetailsError`) rather than stripped: a
 * silently edited row would hide the bug that put a secret there.
 */
@Injectable()
export class AuditLog {
  private readonly logger = new Logger('AuditLog');

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Records one admin write; inside the caller's transaction when `manager`
   * is given (the row then exists exactly when the write does). Throws
   * `AuditDetailsError` before writing anything when `details` holds what
   * looks like a credential, and the database's error when the insert fails.
   */
  async record(entry: AuditEntry, manager?: EntityManager): Promise<void> {
    const details = entry.details ?? {};
    assertNoCredentials(details);
    await (manager ?? this.dataSource.manager).query(
      `INSERT INTO admin_audit (admin_key_name, client_ip, action, target, details)
       VALUES ($1, $2, $3, $4, $5::jsonb)`,
      [entry.actor.keyName, entry.actor.ip, entry.action, entry.target, JSON.stringify(details)],
    );
  }

  /**
   * Runs an admin write that has no transaction of ours (a forced refresh
   * locks and writes inside the token module) and records the attempt
   * whatever its outcome: `entry.details` plus `describe(result)` when it
   * succeeds, plus `describeFailure(error)` when it throws. Failed and refused
   * attempts are recorded too: they were writes asked for. When the row
   * cannot be written the write's own answer still goes back (it happened,
   * or failed, either way) and the lost row is logged as an error.
   */
  async recordAttempt<T>(
    entry: AuditEntry,
    write: () => Promise<T>,
    describe: (result: T) => Record<string, unknown>,
    describeFailure: (error: unknown) => Record<string, unknown>,
  ): Promise<T> {
    let result: T;
    try {
      result = await write();
    } catch (error) {
      await this.recordOrLog({ ...entry, details: { ...entry.details, ...describeFailure(error) } });
      throw error;
    }
    await this.recordOrLog({ ...entry, details: { ...entry.details, ...describe(result) } });
    return result;
  }

  /**
   * Up to `limit` rows older than row `before` (the newest when absent),
   * newest first. A failed read is a `TokenStoreUnavailableError` (503).
   */
  async page(limit: number, before?: string): Promise<AuditPage> {
    let rows: AuditRow[];
    try {
      // One row more than asked tells whether an older page exists. The order names
      // the column: a bare `id` would be the text alias, where "9" sorts before "57".
      rows = await this.dataSource.query(
        `SELECT id::text AS id, at, admin_key_name, client_ip, action, target, details
         FROM admin_audit WHERE ($2::bigint IS NULL OR id < $2::bigint)
         ORDER BY admin_audit.id DESC LIMIT $1`,
        [limit + 1, before ?? null],
      );
    } catch (error) {
      throw new TokenStoreUnavailableError(describeError(error));
    }
    const page = rows.slice(0, limit);
    return {
      items: page.map(auditRecord),
      nextBefore: rows.length > limit ? page[page.length - 1].id : null,
    };
  }

  private async recordOrLog(entry: AuditEntry): Promise<void> {
    try {
      await this.record(entry);
    } catch (error) {
      this.logger.error(
        `Audit row lost: ${entry.action} of ${entry.target} by admin key "${entry.actor.keyName}" ` +
          `from ${entry.actor.ip} was not recorded (${describeError(error)})`,
      );
    }
  }
}

function auditRecord(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    at: row.at.toISOString(),
    adminKeyName: row.admin_key_name,
    clientIp: row.client_ip,
    action: row.action,
    target: row.target,
    details: row.details,
  };
}
