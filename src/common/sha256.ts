import { hash } from 'node:crypto';

/**
 * One-shot SHA-256 (`crypto.hash`: a third of the cost of a `createHash`
 * object, on the hot path) of a UTF-8 string or of bytes: what the secrets,
 * keys and admin keys are compared by, in constant time, whatever their length.
 */
export function sha256(value: string | Buffer): Buffer {
  return hash('sha256', value, 'buffer');
}
