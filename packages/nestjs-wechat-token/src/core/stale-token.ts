import { STALE_TOKEN_ERRCODES } from './wechat-protocol.js';

export { STALE_TOKEN_ERRCODES };

/**
 * The errcode a WeChat API answer carries, wherever it is: a plain JSON body,
 * an axios / `HttpService` response (`.data`), or an error that holds either
 * (`.errcode`, `.response.data`).
 */
export function errcodeOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.errcode === 'number') return record.errcode;
  if ('data' in record && 'status' in record) return errcodeOf(record.data);
  if ('response' in record) return errcodeOf(record.response);
  return undefined;
}

/** Whether a WeChat answer (or an error carrying one) says the token was stale. */
export function isStaleTokenAnswer(value: unknown): boolean {
  const errcode = errcodeOf(value);
  return errcode !== undefined && STALE_TOKEN_ERRCODES.has(errcode);
}
