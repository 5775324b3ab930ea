import type { ServerFixture } from './server-fixture.js';

/** A value as the admin API shows it: its first and last 4 characters. */
export const MASKED = /^.{4}….{4}$/;

/** An admin API answer: status, headers, the parsed JSON body (undefined if not JSON) and the raw text. */
export interface AdminAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/**
 * Calls the fixture's server with the admin key (`auth: null` sends none, a
 * string sends that Authorization header); `json` is sent as a JSON body
 * (POST unless `method` says otherwise).
 */
export async function callAdmin(
  fixture: ServerFixture,
  path: string,
  init: RequestInit & { auth?: string | null; json?: unknown } = {},
): Promise<AdminAnswer> {
  const { auth, json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (auth !== null) headers.set('authorization', auth ?? `Bearer ${fixture.adminToken}`);
  if (json !== undefined) headers.set('content-type', 'application/json');
  const response = await fetch(`${fixture.baseUrl}${path}`, {
    ...rest,
    headers,
    ...(json !== undefined ? { method: rest.method ?? 'POST', body: JSON.stringify(json) } : {}),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, text };
}
