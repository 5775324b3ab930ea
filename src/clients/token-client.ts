/** A client as the admin API shows it: never its key, which only its creation answer holds. */
export interface TokenClient {
  id: number;
  name: string;
  /** The accounts whose token the key may take. */
  appIds: string[];
  /** Networks the key may be used from, inside `TOKEN_CLIENT_ALLOWLIST`; empty: that allowlist alone. */
  cidrs: string[];
  /** False once revoked (`DELETE /admin/clients/:id`): the key is refused on every replica. */
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
  /** The last handout written (handouts are written in batches, every few seconds). */
  lastUsedAt: string | null;
}

/** The answer to a client's creation: the only time its key is shown. */
export interface CreatedTokenClient extends TokenClient {
  key: string;
}

/** What a new client is made of. */
export interface NewTokenClient {
  name: string;
  appIds: string[];
  cidrs: string[];
}

/** A change to a client: only the fields given change. */
export interface TokenClientChange {
  name?: string;
  appIds?: string[];
  cidrs?: string[];
  enabled?: boolean;
}

/** What checking a key needs of its client, as every replica keeps it in memory. */
export interface ClientCredential {
  id: number;
  name: string;
  keySalt: Buffer;
  keyDigest: Buffer;
  appIds: string[];
  cidrs: string[];
  enabled: boolean;
}
