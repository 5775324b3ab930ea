import type { RuntimeSync } from '../runtime-sync/runtime-sync.service.js';
import { formatClientKey, newClientSecret } from './client-key.js';
import { ClientKeyring } from './client-keyring.js';
import type { ClientRepository } from './client-repository.js';
import type { ClientCredential } from './token-client.js';

/** A keyring for unit specs: no database, no runtime sync; fill it with `replace()`. */
export function memoryKeyring(): ClientKeyring {
  return new ClientKeyring({} as ClientRepository, { register: () => undefined } as unknown as RuntimeSync);
}

/**
 * A client with a fresh key, as `POST /admin/clients` makes one: the key to
 * send and the credential the keyring holds (only its salt and digest).
 * Enabled, named `client-<id>`, from anywhere unless `fields` say otherwise.
 */
export function clientWithKey(
  id: number,
  fields: Pick<ClientCredential, 'appIds'> & Partial<ClientCredential>,
): { key: string; credential: ClientCredential } {
  const { secret, salt, digest } = newClientSecret();
  return {
    key: formatClientKey(id, secret),
    credential: {
      id,
      name: `client-${id}`,
      keySalt: salt,
      keyDigest: digest,
      cidrs: [],
      enabled: true,
      ...fields,
    },
  };
}
