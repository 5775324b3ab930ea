import { Injectable, Logger } from '@nestjs/common';
import { describeError } from 'nestjs-wechat-token';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditLog, type AdminActor, type AuditAction } from '../audit/audit-log.js';
import { RuntimeSync } from '../runtime-sync/runtime-sync.service.js';
import { formatClientKey, newClientSecret } from './client-key.js';
import { ClientRepository } from './client-repository.js';
import type { CreatedTokenClient, NewTokenClient, TokenClient, TokenClientChange } from './token-client.js';

/** Thrown for a client id that is not in `token_client`. */
export class UnknownClientError extends Error {
  readonly code = 'UNKNOWN_CLIENT';
  constructor(readonly clientId: number) {
    super(`No client ${clientId}`);
    this.name = 'UnknownClientError';
  }
}

/**
 * The admin API's writes to `token_client`. Each one commits with its audit
 * row and a NOTIFY to every replica, in one transaction; this replica
 * re-reads its keyring before answering, so a revoked key is refused here
 * from the answer on, and elsewhere within `RUNTIME_SYNC_MS`.
 */
@Injectable()
export class ClientAdminService {
  private readonly logger = new Logger('ClientAdminService');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: ClientRepository,
    private readonly audit: AuditLog,
    private readonly sync: RuntimeSync,
  ) {}

  /** Every client, oldest first. */
  list(): Promise<TokenClient[]> {
    return this.repository.list();
  }

  /** One client. Throws `UnknownClientError`. */
  async get(id: number): Promise<TokenClient> {
    const client = await this.repository.find(id);
    if (!client) throw new UnknownClientError(id);
    return client;
  }

  /** A new client and its key, shown this once. Throws `ClientNameTakenError`. */
  async create(actor: AdminActor, client: NewTokenClient): Promise<CreatedTokenClient> {
    const { secret, ...stored } = newClientSecret();
    const created = await this.write(async (manager) => {
      const row = await this.repository.insert(manager, client, stored);
      await this.record(manager, actor, 'client.create', row, describe(client));
      return row;
    });
    return { ...created, key: formatClientKey(created.id, secret) };
  }

  /** Changes the fields given. Throws `UnknownClientError`, `ClientNameTakenError`. */
  update(actor: AdminActor, id: number, change: TokenClientChange): Promise<TokenClient> {
    return this.write(async (manager) => {
      await this.existing(manager, id);
      const row = await this.repository.update(manager, id, change);
      // Disabling through PATCH is a revocation as much as DELETE is: the audit says so the same way.
      const action = change.enabled === false ? 'client.revoke' : 'client.update';
      await this.record(manager, actor, action, row, describe(change));
      return row;
    });
  }

  /** Disables the client: its key is refused from now on; the row and its handouts stay. Throws `UnknownClientError`. */
  async revoke(actor: AdminActor, id: number): Promise<void> {
    await this.write(async (manager) => {
      const before = await this.existing(manager, id);
      const row = await this.repository.update(manager, id, { enabled: false });
      await this.record(manager, actor, 'client.revoke', row, { wasEnabled: before.enabled });
    });
  }

  /** Runs `work` in a transaction that also tells every replica, then brings this one up to date. */
  private async write<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const result = await this.dataSource.transaction(async (manager) => {
      const value = await work(manager);
      await this.sync.announce('clients', manager);
      return value;
    });
    // Committed whatever happens now: a failed re-read is made up by the periodic one.
    await this.sync
      .read('clients')
      .catch((error) =>
        this.logger.warn(`Re-reading the clients after a change failed: ${describeError(error)}`),
      );
    return result;
  }

  private async existing(manager: EntityManager, id: number): Promise<TokenClient> {
    const client = await this.repository.find(id, manager, true);
    if (!client) throw new UnknownClientError(id);
    return client;
  }

  private record(
    manager: EntityManager,
    actor: AdminActor,
    action: AuditAction,
    client: TokenClient,
    details: Record<string, unknown>,
  ): Promise<void> {
    return this.audit.record(
      { actor, action, target: String(client.id), details: { name: client.name, ...details } },
      manager,
    );
  }
}

/** What an audit row says of a client's fields: the values given, never a key. */
function describe(fields: TokenClientChange): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}
