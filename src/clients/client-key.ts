import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256 } from '../common/sha256.js';

/** What every client key starts with: how `/cgi-bin/*` tells a key from an AppSecret (which is 32 hex digits). */
export const CLIENT_KEY_PREFIX = 'wtc_';

/** Random bytes of a key's secret part: 256 bits, shown as 43 base64url characters. */
const SECRET_BYTES = 32;
const SALT_BYTES = 16;
const CLIENT_KEY = /^wtc_([1-9][0-9]{0,9})_([A-Za-z0-9_-]{43})$/;

/** A client key as a client sends it: `wtc_<client id>_<secret>`. */
export interface ParsedClientKey {
  clientId: number;
  secret: string;
}

/** What the `token_client` row keeps of a key: never the key. */
export interface ClientKeyDigest {
  salt: Buffer;
  digest: Buffer;
}

/** Whether `secret` (the `secret` field of a token request) is meant as a client key rather than an AppSecret. */
export function looksLikeClientKey(secret: string): boolean {
  return secret.startsWith(CLIENT_KEY_PREFIX);
}

/**
 * The client id and secret part of a key, or undefined when it is not one.
 * The id is in the key so that checking it is one look-up, not a scan.
 */
export function parseClientKey(key: string): ParsedClientKey | undefined {
  const match = CLIENT_KEY.exec(key);
  if (!match) return undefined;
  const clientId = Number(match[1]);
  return clientId <= 2_147_483_647 ? { clientId, secret: match[2] } : undefined;
}

/** A new key's secret part, and what to store of it (the client id is not needed: it is not hashed). */
export function newClientSecret(): { secret: string } & ClientKeyDigest {
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  const salt = randomBytes(SALT_BYTES);
  return { secret, salt, digest: digestOf(salt, secret) };
}

/** The key a client sends: `wtc_<client id>_<secret>`. */
export function formatClientKey(clientId: number, secret: string): string {
  return `${CLIENT_KEY_PREFIX}${clientId}_${secret}`;
}

/** Whether `secret` is the secret part of the key stored as `stored`, compared in constant time. */
export function clientKeyMatches(stored: ClientKeyDigest, secret: string): boolean {
  return timingSafeEqual(digestOf(stored.salt, secret), stored.digest);
}

/**
 * One SHA-256 of salt + secret. A fast hash is enough: the secret is 256
 * random bits, not a password, so there is nothing to slow a guess down on;
 * the salt keeps equal digests from telling anything across rows or databases.
 */
function digestOf(salt: Buffer, secret: string): Buffer {
  return sha256(Buffer.concat([salt, Buffer.from(secret, 'utf8')]));
}
