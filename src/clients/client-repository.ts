import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { ClientKeyDigest } from './client-key.js';
import type { ClientCredential, NewTokenClient, TokenClient, TokenClientChange } from './token-client.js';

interface ClientRow {
  id: number;
  name: string;
  app_ids: string[];
  cidrs: string[];
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
  last_used_at: Date | null;
}

interface CredentialRow {
  id: number;
  name: string;
  key_salt: Buffer;
  key_digest: Buffer;
  app_ids: string[];
  cidrs: string[];
  enabled: boolean;
}

/** Columns the admin API shows: never `key_salt` / `key_digest`. */
const CLIENT_COLUMNS = 'id, name, app_ids, cidrs, enabled, created_at, updated_at, last_used_at';

/** Thrown when a client's name is taken (the table's unique constraint said so). */
export class ClientNameTakenError extends Error {
  readonly code = 'CLIENT_NAME_TAKEN';
  constructor(readonly clientName: string) {
    super(`A client named ${JSON.stringify(clientName)} exists already`);
    this.name = 'ClientNameTakenError';
  }
}

/** The SQL of `token_client`. Writes take the caller's transaction (`manager`). */
@Injectable()
export class ClientRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Every client, oldest first. */
  async list(): Promise<TokenClient[]> {
    const rows: ClientRow[] = await this.dataSource.query(
      `SELECT ${CLIENT_COLUMNS} FROM token_client ORDER BY id`,
    );
    return rows.map(toClient);
  }

  /** One client, or undefined; `manager` with `lock` reads it FOR UPDATE. */
  async find(
    id: number,
    manager: EntityManager = this.dataSource.manager,
    lock = false,
  ): Promise<TokenClient | undefined> {
    const rows: ClientRow[] = await manager.query(
      `SELECT ${CLIENT_COLUMNS} FROM token_client WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return rows.length === 0 ? undefined : toClient(rows[0]);
  }

  /** What every replica keeps to check keys: all clients, revoked ones too (their key gets its own answer). */
  async credentials(): Promise<ClientCredential[]> {
    const rows: CredentialRow[] = await this.dataSource.query(
      'SELECT id, name, key_salt, key_digest, app_ids, cidrs, enabled FROM token_client',
    );
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      keySalt: row.key_salt,
      keyDigest: row.key_digest,
      appIds: row.app_ids,
      cidrs: row.cidrs,
      enabled: row.enabled,
    }));
  }

  /** Inserts a client with its key's digest. Throws `ClientNameTakenError`. */
  async insert(manager: EntityManager, client: NewTokenClient, key: ClientKeyDigest): Promise<TokenClient> {
    const rows: ClientRow[] = await nameChecked(
      client.name,
      manager.query(
        `INSERT INTO token_client (name, key_salt, key_digest, app_ids, cidrs)
         VALUES ($1, $2, $3, $4, $5) RETURNING ${CLIENT_COLUMNS}`,
        [client.name, key.salt, key.digest, client.appIds, client.cidrs],
      ),
    );
    return toClient(rows[0]);
  }

  /** Applies a change to an existing client. Throws `ClientNameTakenError`. */
  async update(manager: EntityManager, id: number, change: TokenClientChange): Promise<TokenClient> {
    const columns: Record<keyof TokenClientChange, string> = {
      name: 'name',
      appIds: 'app_ids',
      cidrs: 'cidrs',
      enabled: 'enabled',
    };
    const sets: string[] = ['updated_at = now()'];
    const values: unknown[] = [id];
    for (const field of Object.keys(columns) as (keyof TokenClientChange)[]) {
      if (change[field] === undefined) continue;
      values.push(change[field]);
      sets.push(`${columns[field]} = $${values.length}`);
    }
    // TypeORM answers an UPDATE with [rows, affected count].
    const [rows]: [ClientRow[], number] = await nameChecked(
      change.name,
      manager.query(
        `UPDATE token_client SET ${sets.join(', ')} WHERE id = $1 RETURNING ${CLIENT_COLUMNS}`,
        values,
      ),
    );
    return toClient(rows[0]);
  }
}

/** The query's result, with a unique violation on the name as `ClientNameTakenError`. */
async function nameChecked<T>(name: string | undefined, query: Promise<T>): Promise<T> {
  try {
    return await query;
  } catch (error) {
    const cause = (error as { driverError?: { code?: string; constraint?: string } }).driverError;
    if (name !== undefined && cause?.code === '23505' && cause.constraint === 'token_client_name_key') {
      throw new ClientNameTakenError(name);
    }
    throw error;
  }
}

function toClient(row: ClientRow): TokenClient {
  return {
    id: row.id,
    name: row.name,
    appIds: row.app_ids,
    cidrs: row.cidrs,
    enabled: row.enabled,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    lastUsedAt: row.last_used_at ? row.last_used_at.toISOString() : null,
  };
}
