import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  describeError,
  SecretBox,
  storedKeyIds,
  WechatTokenService,
  type TicketType,
  type TokenMode,
} from 'nestjs-wechat-token';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditLog, type AdminActor } from '../audit/audit-log.js';
import { AccountSecrets } from '../cgi-bin/account-secrets.js';
import { SERVER_CONFIG, type ServerConfig } from '../config/server-config.js';
import { RuntimeSync } from '../runtime-sync/runtime-sync.service.js';
import { ACCOUNT_MESSAGES } from './account-messages.js';

/** Where an account comes from: `WECHAT_ACCOUNTS` (read-only here), or the admin API. */
export type AccountSource = 'env' | 'api';

/** An account as the admin API shows it: never its secret. */
export interface AccountSettings {
  appId: string;
  mode: TokenMode;
  tickets: TicketType[];
  enabled: boolean;
  source: AccountSource;
  createdAt: string;
  updatedAt: string;
}

/** `POST /admin/accounts`. */
export interface NewAccount {
  appId: string;
  secret: string;
  mode: TokenMode;
  tickets: TicketType[];
}

/** `PATCH /admin/accounts/:appId`: what to change. */
export interface AccountChange {
  secret?: string;
  enabled?: boolean;
  mode?: TokenMode;
  tickets?: TicketType[];
}

interface AccountRow {
  app_id: string;
  mode: TokenMode;
  tickets: TicketType[];
  enabled: boolean;
  secret_sealed: string | null;
  source: AccountSource;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'app_id, mode, tickets, enabled, secret_sealed, source, created_at, updated_at';

/** What a sealed AppSecret is bound to: it opens for no other account. */
export function secretContext(appId: string): string {
  return `wechat_account.secret:${appId}`;
}

/**
 * The accounts of the `wechat_account` table, applied to this replica's
 * `WechatTokenService` and `AccountSecrets`: those of `WECHAT_ACCOUNTS`
 * recorded at start (`source = 'env'`, their secrets stay in the
 * environment), those of the admin API with their AppSecret sealed under
 * `SECRETS_KEY`. Every replica re-reads the table on NOTIFY and every
 * `RUNTIME_SYNC_MS` (`RuntimeSync`): a new account is kept (its first token
 * fetched by one replica, under the cluster lock), a disabled one is no
 * longer refreshed or served, a new secret is used from the next fetch on.
 */
@Injectable()
export class AccountRegistry implements OnModuleInit {
  private readonly logger = new Logger('AccountRegistry');
  private readonly box?: SecretBox;
  private readonly envAppIds: Set<string>;
  /** What was applied of each API account: its row's version (`xmin`) and whether it is served. */
  private readonly applied = new Map<string, { version: string; served: boolean }>();
  /** Why a row could not be applied, as last logged (logged again only when it changes). */
  private readonly failures = new Map<string, string>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(SERVER_CONFIG) private readonly config: ServerConfig,
    private readonly tokens: WechatTokenService,
    private readonly secrets: AccountSecrets,
    private readonly sync: RuntimeSync,
    private readonly audit: AuditLog,
  ) {
    if (config.secretsKeys) this.box = new SecretBox(config.secretsKeys);
    this.envAppIds = new Set(config.token.accounts.map((account) => account.appId));
    sync.register('accounts', () => this.reload());
  }

  /**
   * Records the `WECHAT_ACCOUNTS` accounts, checks that `SECRETS_KEY` opens
   * what the database holds sealed (the app does not start otherwise), and
   * keeps the API's accounts.
   */
  async onModuleInit(): Promise<void> {
    await this.recordEnvAccounts();
    await this.checkKeys();
    await this.reload();
  }

  /** Every account of the table, oldest first. */
  async list(): Promise<AccountSettings[]> {
    const rows: AccountRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM wechat_account ORDER BY created_at, app_id`,
    );
    return rows.map(toSettings);
  }

  /** Whether the account is in the table as this replica last read it (a disabled one too). */
  knows(appId: string): boolean {
    return this.envAppIds.has(appId) || this.applied.has(appId);
  }

  /** Adds an account through the admin API (409 when it exists, or when there is no SECRETS_KEY). */
  async create(account: NewAccount, actor: AdminActor): Promise<AccountSettings> {
    const box = this.requireBox();
    const settings = await this.dataSource.transaction(async (manager) => {
      const rows: AccountRow[] = await manager.query(
        // A row left by WECHAT_ACCOUNTS (the account since removed from it, here at least) is taken over.
        `INSERT INTO wechat_account AS a (app_id, mode, tickets, secret_sealed, secret_key_id, source)
         VALUES ($1, $2, $3, $4, $5, 'api')
         ON CONFLICT (app_id) DO UPDATE SET
           mode = excluded.mode, tickets = excluded.tickets, enabled = true, source = 'api',
           secret_sealed = excluded.secret_sealed, secret_key_id = excluded.secret_key_id,
           updated_at = clock_timestamp()
         WHERE a.source = 'env' AND $6::boolean
         RETURNING ${COLUMNS}`,
        [
          account.appId,
          account.mode,
          account.tickets,
          box.seal(account.secret, secretContext(account.appId)),
          box.currentKeyId,
          !this.envAppIds.has(account.appId),
        ],
      );
      if (rows.length === 0) throw new ConflictException(await this.existsMessage(manager, account.appId));
      const created = toSettings(rows[0]);
      await this.audit.record(
        {
          actor,
          action: 'account.create',
          target: account.appId,
          details: { mode: created.mode, tickets: created.tickets },
        },
        manager,
      );
      await this.sync.announce('accounts', manager);
      return created;
    });
    await this.applyNow();
    return settings;
  }

  /** Changes an API account (404 unknown; 409 for a `WECHAT_ACCOUNTS` one). */
  async update(appId: string, change: AccountChange, actor: AdminActor): Promise<AccountSettings> {
    const box = change.secret === undefined ? undefined : this.requireBox();
    const settings = await this.dataSource.transaction(async (manager) => {
      await this.lockApiAccount(manager, appId);
      // Wrapped in a SELECT: TypeORM answers a bare UPDATE ... RETURNING with [rows, count].
      const rows: AccountRow[] = await manager.query(
        `WITH updated AS (UPDATE wechat_account SET
           mode = COALESCE($2::varchar, mode),
           tickets = COALESCE($3::varchar[], tickets),
           enabled = COALESCE($4::boolean, enabled),
           secret_sealed = COALESCE($5::text, secret_sealed),
           secret_key_id = COALESCE($6::varchar, secret_key_id),
           updated_at = clock_timestamp()
         WHERE app_id = $1 RETURNING ${COLUMNS}) SELECT * FROM updated`,
        [
          appId,
          change.mode ?? null,
          change.tickets ?? null,
          change.enabled ?? null,
          box ? box.seal(change.secret!, secretContext(appId)) : null,
          box ? box.currentKeyId : null,
        ],
      );
      const updated = toSettings(rows[0]);
      await this.audit.record(
        {
          actor,
          action: change.enabled === false ? 'account.disable' : 'account.update',
          target: appId,
          details: {
            ...(change.mode !== undefined && { mode: change.mode }),
            ...(change.tickets !== undefined && { tickets: change.tickets }),
            ...(change.enabled !== undefined && { enabled: change.enabled }),
            // That it changed, never what it is.
            ...(change.secret !== undefined && { secretChanged: true }),
          },
        },
        manager,
      );
      await this.sync.announce('accounts', manager);
      return updated;
    });
    await this.applyNow();
    return settings;
  }

  /**
   * Re-reads the table and applies what changed to this replica (a row's
   * version is its `xmin`: a change made with plain SQL counts too). A row
   * that cannot be applied (a secret no key opens, a value the module
   * refuses) is logged and tried again at the next read; it never stops the
   * other accounts.
   */
  async reload(): Promise<void> {
    const rows: (AccountRow & { version: string })[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, xmin::text AS version FROM wechat_account WHERE source = 'api'`,
    );
    const seen = new Set<string>();
    for (const row of rows) {
      // An appId of WECHAT_ACCOUNTS is served from the environment whatever the table says.
      if (this.envAppIds.has(row.app_id)) continue;
      seen.add(row.app_id);
      const applied = this.applied.get(row.app_id);
      if (applied?.version === row.version) continue;
      try {
        this.applied.set(row.app_id, { version: row.version, served: this.apply(row) });
        this.failures.delete(row.app_id);
      } catch (error) {
        // Not recorded as applied: the next read tries again. What was served stays served.
        const message = ACCOUNT_MESSAGES.notApplied(describeError(error));
        if (this.failures.get(row.app_id) !== message) this.logger.error(`${row.app_id}: ${message}`);
        this.failures.set(row.app_id, message);
      }
    }
    for (const [appId, applied] of this.applied) {
      if (seen.has(appId)) continue;
      // Deleted with SQL, or now in WECHAT_ACCOUNTS: no longer an API account.
      if (applied.served) this.stopServing(appId);
      this.applied.delete(appId);
    }
  }

  /**
   * Applies a committed write in this replica before answering. A failure
   * here does not undo the write (the answer says what was written); the
   * next periodic read applies it.
   */
  private async applyNow(): Promise<void> {
    await this.sync
      .read('accounts')
      .catch((error) =>
        this.logger.warn(`Applying the accounts failed: ${describeError(error)}; retried shortly.`),
      );
  }

  /** Serves an API account as its row says; returns whether it is served. Throws when the row cannot be applied. */
  private apply(row: AccountRow): boolean {
    if (!row.enabled) {
      this.stopServing(row.app_id);
      return false;
    }
    const secret = this.requireBox().open(row.secret_sealed!, secretContext(row.app_id));
    this.tokens.setAccount({ appId: row.app_id, secret, mode: row.mode, tickets: row.tickets });
    this.secrets.set(row.app_id, secret);
    return true;
  }

  private stopServing(appId: string): void {
    this.secrets.delete(appId);
    this.tokens.removeAccount(appId);
  }

  /** Upserts the `WECHAT_ACCOUNTS` accounts as `source = 'env'` (an API row of the same appId is taken over). */
  private async recordEnvAccounts(): Promise<void> {
    for (const account of this.config.token.accounts) {
      const [before]: { source: AccountSource }[] = await this.dataSource.query(
        `SELECT source FROM wechat_account WHERE app_id = $1`,
        [account.appId],
      );
      if (before?.source === 'api') this.logger.warn(ACCOUNT_MESSAGES.envTakesOver(account.appId));
      await this.dataSource.query(
        `INSERT INTO wechat_account AS a (app_id, mode, tickets, source)
         VALUES ($1, $2, $3, 'env')
         ON CONFLICT (app_id) DO UPDATE SET
           mode = excluded.mode, tickets = excluded.tickets, enabled = true, source = 'env',
           secret_sealed = NULL, secret_key_id = NULL, updated_at = clock_timestamp()
         WHERE (a.mode, a.tickets, a.enabled, a.source) IS DISTINCT FROM (excluded.mode, excluded.tickets, true, 'env')`,
        [account.appId, account.mode ?? 'token', account.tickets ?? []],
      );
    }
  }

  /**
   * The start-up check of the keys: API accounts need `SECRETS_KEY`, and
   * every sealed value (AppSecrets, stored tokens and tickets) must be under
   * `SECRETS_KEY` or `SECRETS_KEY_PREVIOUS`. Throws a message naming the
   * variable to fix.
   */
  private async checkKeys(): Promise<void> {
    const [row]: { api: number; key_ids: string[] }[] = await this.dataSource.query(
      `SELECT (SELECT count(*)::int FROM wechat_account WHERE source = 'api') AS api,
              ARRAY(SELECT DISTINCT secret_key_id FROM wechat_account WHERE secret_key_id IS NOT NULL) AS key_ids`,
    );
    row.key_ids.push(...(await storedKeyIds(this.dataSource)));
    if (!this.box) {
      if (row.api > 0) throw new Error(ACCOUNT_MESSAGES.secretsKeyMissing(row.api));
      if (row.key_ids.length > 0) throw new Error(ACCOUNT_MESSAGES.secretsKeyMissingForTokens());
      return;
    }
    const box = this.box;
    const unknown = row.key_ids.filter((id) => !box.opens(id));
    if (unknown.length > 0) throw new Error(ACCOUNT_MESSAGES.secretsKeyWrong(unknown));
  }

  private requireBox(): SecretBox {
    if (!this.box) throw new ConflictException(ACCOUNT_MESSAGES.needsSecretsKey());
    return this.box;
  }

  /** Locks an account's row for a change: 404 unknown, 409 for one of `WECHAT_ACCOUNTS`. */
  private async lockApiAccount(manager: EntityManager, appId: string): Promise<void> {
    const rows: { source: AccountSource }[] = await manager.query(
      `SELECT source FROM wechat_account WHERE app_id = $1 FOR UPDATE`,
      [appId],
    );
    if (rows.length === 0) throw new NotFoundException(ACCOUNT_MESSAGES.unknown(appId));
    if (rows[0].source === 'env' || this.envAppIds.has(appId)) {
      throw new ConflictException(ACCOUNT_MESSAGES.envAccount(appId));
    }
  }

  private async existsMessage(manager: EntityManager, appId: string): Promise<string> {
    const rows: { source: AccountSource }[] = await manager.query(
      `SELECT source FROM wechat_account WHERE app_id = $1`,
      [appId],
    );
    return rows[0]?.source === 'env' ? ACCOUNT_MESSAGES.envAccount(appId) : ACCOUNT_MESSAGES.exists(appId);
  }
}

function toSettings(row: AccountRow): AccountSettings {
  return {
    appId: row.app_id,
    mode: row.mode,
    tickets: row.tickets,
    enabled: row.enabled,
    source: row.source,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}
