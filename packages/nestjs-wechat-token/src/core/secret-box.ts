import { createCipheriv, createDecipheriv, hash, randomBytes } from 'node:crypto';

/** The keys of a `SecretBox`: 32 bytes each. */
export interface SecretBoxKeys {
  /** Seals every new value. */
  current: Buffer;
  /** The key before a rotation: values sealed under it are still opened (and re-sealed by a rotation). */
  previous?: Buffer | undefined;
}

/** Thrown when a sealed value cannot be opened: no key of that id, or the value was altered. */
export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

/** How a sealed value starts: `wtk1.<key id>.<nonce>.<ciphertext and tag>` (base64url parts). */
export const SEALED_PREFIX = 'wtk1.';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** The id of a key, stored beside what it sealed: 8 hex digits of its SHA-256 (not enough to guess it). */
export function secretKeyId(key: Buffer): string {
  return hash('sha256', key, 'hex').slice(0, 8);
}

/**
 * AES-256-GCM for values kept at rest (AppSecrets, tokens, tickets): a
 * random nonce per value, the key id inside the sealed text, and a
 * `context` (what the value is, and whose) bound as additional data, so a
 * sealed value copied to another row or column does not open.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  /** The id of the key new values are sealed under. */
  readonly currentKeyId: string;

  constructor(keys: SecretBoxKeys) {
    for (const key of [keys.current, keys.previous]) {
      if (key !== undefined && key.length !== 32) throw new RangeError('A SecretBox key must be 32 bytes');
    }
    this.currentKeyId = secretKeyId(keys.current);
    this.keys.set(this.currentKeyId, keys.current);
    if (keys.previous) this.keys.set(secretKeyId(keys.previous), keys.previous);
  }

  /** Whether a stored value is sealed (by any `SecretBox`), rather than plain text from before one was set. */
  static isSealed(stored: string): boolean {
    return stored.startsWith(SEALED_PREFIX);
  }

  /** The id of the key a sealed value is under. */
  static keyIdOf(sealed: string): string {
    return sealed.slice(SEALED_PREFIX.length, sealed.indexOf('.', SEALED_PREFIX.length));
  }

  /** Whether values sealed under the key of this id open here. */
  opens(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  seal(value: string, context: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKeyId)!, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${SEALED_PREFIX}${this.currentKeyId}.${nonce.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** The value of a sealed text. Throws `SecretBoxError` (without the value) when it cannot be opened. */
  open(sealed: string, context: string): string {
    const [, keyId, nonce, body] = sealed.split('.');
    const key = keyId === undefined ? undefined : this.keys.get(keyId);
    if (!SecretBox.isSealed(sealed) || !key || nonce === undefined || body === undefined) {
      throw new SecretBoxError(
        key || !SecretBox.isSealed(sealed)
          ? `a value of ${context} is not a sealed value`
          : `a value of ${context} is sealed under key ${keyId}, which is neither the current nor the previous key (encryptionKeys; the server's SECRETS_KEY / SECRETS_KEY_PREVIOUS)`,
      );
    }
    const bytes = Buffer.from(body, 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SecretBoxError(
        `a value of ${context} does not open under key ${keyId}: altered, or moved from another row`,
      );
    }
  }
}
