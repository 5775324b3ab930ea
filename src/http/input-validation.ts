import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import {
  APP_ID_PATTERN,
  isTicketType,
  jsapiInputProblem,
  type JsapiSignatureInput,
  type TicketType,
} from 'nestjs-wechat-token';
import type { NewTokenClient, TokenClientChange } from '../clients/token-client.js';
import { InvalidCidrError, normalizeCidr } from '../network/cidr-list.js';
import { TIMELINE_RANGES, type TimelineRange } from '../admin/timeline.service.js';
import { HTTP_MESSAGES } from './http-messages.js';

/**
 * The accepted shape of an `appId` in a path is the one the module accepts in
 * its options: 1–64 letters, digits, `_`, `-`. Looser than WeChat's own `wx` +
 * 16 characters, so accounts of other shapes (test and sandbox ones) work, and
 * strict enough that nothing else (quotes, slashes, SQL, control characters)
 * reaches the service or a log line. A well-formed appId that is not
 * configured is a 404.
 */
export { APP_ID_PATTERN };
/** Largest page of the token history. */
export const HISTORY_MAX_LIMIT = 500;
/** Page size of the token history when `limit` is not given. */
export const HISTORY_DEFAULT_LIMIT = 50;
/** Longest `staleToken` accepted (WeChat keeps 512 characters of room for a token). */
export const STALE_TOKEN_MAX_LENGTH = 2048;

/** Longest page URL a JS-SDK signature is asked for or checked with. */
export const JSAPI_URL_MAX_LENGTH = 4096;
/** Longest nonceStr or signature a signature check accepts (a signature is 40 hex characters). */
export const JSAPI_FIELD_MAX_LENGTH = 128;

/** A positive bigint id as Postgres `bigint` holds it: 1 to 2^63 - 1. */
const BIGINT_ID = /^[1-9][0-9]{0,18}$/;
const BIGINT_MAX = 9223372036854775807n;

/** Validates the `:appId` path parameter (400 with a message otherwise). */
@Injectable()
export class AppIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (typeof value !== 'string' || !APP_ID_PATTERN.test(value)) {
      throw new BadRequestException(HTTP_MESSAGES.invalidAppId());
    }
    return value;
  }
}

/** Validates the history's `limit` query value: 1–500, default 50. */
@Injectable()
export class HistoryLimitPipe implements PipeTransform<unknown, number> {
  transform(value: unknown): number {
    return queryLimit(value, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT);
  }
}

/** A `limit` query value: an integer from 1 to `max` (`fallback` when absent), or a 400 saying so. */
function queryLimit(value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^[0-9]{1,3}$/.test(value)) {
    throw new BadRequestException(HTTP_MESSAGES.invalidLimit(max));
  }
  const limit = Number(value);
  if (limit < 1 || limit > max) throw new BadRequestException(HTTP_MESSAGES.invalidLimit(max));
  return limit;
}

/** Validates the timeline's `range` query value: `1h`, `24h` (default) or `7d`. */
@Injectable()
export class TimelineRangePipe implements PipeTransform<unknown, TimelineRange> {
  transform(value: unknown): TimelineRange {
    if (value === undefined) return '24h';
    if (!TIMELINE_RANGES.includes(value as TimelineRange)) {
      throw new BadRequestException(HTTP_MESSAGES.invalidTimelineRange());
    }
    return value as TimelineRange;
  }
}

/** Validates the history's `before` cursor: a positive row id (kept as a string: ids are bigints). */
@Injectable()
export class HistoryCursorPipe implements PipeTransform<unknown, string | undefined> {
  transform(value: unknown): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !BIGINT_ID.test(value) || BigInt(value) > BIGINT_MAX) {
      throw new BadRequestException(HTTP_MESSAGES.invalidBefore());
    }
    return value;
  }
}

/** What `POST /admin/accounts/:appId/refresh` was asked. */
export interface RefreshRequest {
  staleToken?: string;
  force?: boolean;
}

/** Validates the refresh body: none, or an object with an optional `staleToken` string and `force` boolean. */
@Injectable()
export class RefreshRequestPipe implements PipeTransform<unknown, RefreshRequest> {
  transform(body: unknown): RefreshRequest {
    if (body === undefined || body === null) return {};
    if (typeof body !== 'object' || Array.isArray(body))
      throw new BadRequestException(HTTP_MESSAGES.invalidRefreshBody());
    const { staleToken, force } = body as Record<string, unknown>;
    const request: RefreshRequest = {};
    if (force !== undefined && force !== null) {
      if (typeof force !== 'boolean') throw new BadRequestException(HTTP_MESSAGES.invalidForce());
      if (force) request.force = true;
    }
    if (staleToken === undefined || staleToken === null) return request;
    if (
      typeof staleToken !== 'string' ||
      staleToken.length === 0 ||
      staleToken.length > STALE_TOKEN_MAX_LENGTH
    ) {
      throw new BadRequestException(HTTP_MESSAGES.invalidStaleToken(STALE_TOKEN_MAX_LENGTH));
    }
    if (request.force) throw new BadRequestException(HTTP_MESSAGES.forceWithStaleToken());
    return { staleToken };
  }
}

/** Validates the `:type` path parameter of the ticket routes: `jsapi` or `wx_card` (400 naming both otherwise). */
@Injectable()
export class TicketTypePipe implements PipeTransform<unknown, TicketType> {
  transform(value: unknown): TicketType {
    if (!isTicketType(value)) throw new BadRequestException(HTTP_MESSAGES.invalidTicketType());
    return value;
  }
}

/** What `POST /admin/accounts/:appId/jsapi-signature` was asked: the page, and optionally its nonceStr and timestamp. */
export interface JsapiSignatureRequest {
  url: string;
  nonceStr?: string;
  /** Seconds since the epoch. */
  timestamp?: number;
}

/** A stand-in for a nonceStr left out (the service makes one up): only the given values are checked. */
const ANY_NONCE = 'nonce';

/**
 * Validates the body of a signature request: `url` (an absolute http(s) URL),
 * and when given `nonceStr` (plain, at most 64 characters) and `timestamp`
 * (whole seconds, not milliseconds), by the library's own rules, so a bad
 * value is a 400 that says what to send.
 */
@Injectable()
export class JsapiSignatureRequestPipe implements PipeTransform<unknown, JsapiSignatureRequest> {
  transform(body: unknown): JsapiSignatureRequest {
    const { url, nonceStr, timestamp } = jsonObject(body, HTTP_MESSAGES.invalidJsapiSignatureBody());
    const request: JsapiSignatureRequest = { url: requiredString('url', url, JSAPI_URL_MAX_LENGTH) };
    if (nonceStr !== undefined && nonceStr !== null) request.nonceStr = nonceStr as string;
    if (timestamp !== undefined && timestamp !== null) request.timestamp = timestamp as number;
    const problem = jsapiInputProblem({
      url: request.url,
      nonceStr: request.nonceStr ?? ANY_NONCE,
      timestamp: request.timestamp ?? 0,
    });
    if (problem) throw new BadRequestException(problem.message);
    return request;
  }
}

/**
 * Validates the body of a signature check: `url`, `nonceStr`, `timestamp` and
 * `signature`, all required, of the right types and sizes. Their meaning (a
 * relative URL, a timestamp in milliseconds…) is the diagnosis' business: it
 * names such a mistake in its answer.
 */
@Injectable()
export class JsapiSignatureCheckPipe implements PipeTransform<unknown, JsapiSignatureInput> {
  transform(body: unknown): JsapiSignatureInput {
    const fields = jsonObject(body, HTTP_MESSAGES.invalidJsapiCheckBody());
    const url = requiredString('url', fields.url, JSAPI_URL_MAX_LENGTH);
    const nonceStr = requiredString('nonceStr', fields.nonceStr, JSAPI_FIELD_MAX_LENGTH);
    const { timestamp } = fields;
    if (timestamp === undefined || timestamp === null) {
      throw new BadRequestException(HTTP_MESSAGES.jsapiFieldMissing('timestamp'));
    }
    const wholeNumber =
      typeof timestamp === 'number'
        ? Number.isSafeInteger(timestamp) && timestamp >= 0
        : typeof timestamp === 'string' && /^\d{1,16}$/.test(timestamp);
    if (!wholeNumber) throw new BadRequestException(HTTP_MESSAGES.jsapiTimestampInvalid());
    const signature = requiredString('signature', fields.signature, JSAPI_FIELD_MAX_LENGTH);
    return { url, nonceStr, timestamp: timestamp as number | string, signature };
  }
}

/** A body that is a JSON object, or a 400 with `message`. */
function jsonObject(body: unknown, message: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadRequestException(message);
  return body as Record<string, unknown>;
}

/** A present, non-empty string of at most `max` characters, or a 400 naming the field. */
function requiredString(field: string, value: unknown, max: number): string {
  if (value === undefined || value === null)
    throw new BadRequestException(HTTP_MESSAGES.jsapiFieldMissing(field));
  if (typeof value !== 'string' || value === '' || value.length > max) {
    throw new BadRequestException(HTTP_MESSAGES.jsapiFieldNotString(field, max));
  }
  return value;
}

// ---------------------------------------------------------------------------
// Token clients (/admin/clients)

/** Longest client name (the `token_client.name` column). */
export const CLIENT_NAME_MAX_LENGTH = 64;
/** Most appIds one client key may take tokens of. */
export const CLIENT_MAX_APP_IDS = 100;
/** Most networks of one client. */
export const CLIENT_MAX_CIDRS = 100;
/** Longest CIDR entry (the column's element type): longer cannot be an address. */
const CIDR_MAX_LENGTH = 64;
/** Control characters and line breaks, which have no place in a name a log line shows. */
const NOT_IN_NAME = /[\p{Cc}\p{Zl}\p{Zp}]/u;
const CLIENT_FIELDS = new Set(['name', 'appIds', 'cidrs']);
const CLIENT_CHANGE_FIELDS = new Set([...CLIENT_FIELDS, 'enabled']);
const CLIENT_ID = /^[1-9][0-9]{0,9}$/;
const INTEGER_MAX = 2_147_483_647;

/** Validates the `:id` of a client route: a positive integer (the table's `integer` id). */
@Injectable()
export class ClientIdPipe implements PipeTransform<unknown, number> {
  transform(value: unknown): number {
    if (typeof value !== 'string' || !CLIENT_ID.test(value) || Number(value) > INTEGER_MAX) {
      throw new BadRequestException(HTTP_MESSAGES.invalidClientId());
    }
    return Number(value);
  }
}

/** Validates `POST /admin/clients`: `name` and `appIds` required, `cidrs` optional (normalised). */
@Injectable()
export class ClientCreatePipe implements PipeTransform<unknown, NewTokenClient> {
  transform(body: unknown): NewTokenClient {
    const fields = clientFields(body, CLIENT_FIELDS, HTTP_MESSAGES.invalidClientBody());
    return {
      name: clientName(fields.name),
      appIds: clientAppIds(fields.appIds),
      cidrs: clientCidrs(fields.cidrs),
    };
  }
}

/** Validates `PATCH /admin/clients/:id`: at least one of `name`, `appIds`, `cidrs`, `enabled`. */
@Injectable()
export class ClientChangePipe implements PipeTransform<unknown, TokenClientChange> {
  transform(body: unknown): TokenClientChange {
    const fields = clientFields(body, CLIENT_CHANGE_FIELDS, HTTP_MESSAGES.invalidClientChangeBody());
    if (Object.keys(fields).length === 0)
      throw new BadRequestException(HTTP_MESSAGES.invalidClientChangeBody());
    const change: TokenClientChange = {};
    if ('name' in fields) change.name = clientName(fields.name);
    if ('appIds' in fields) change.appIds = clientAppIds(fields.appIds);
    if ('cidrs' in fields) change.cidrs = clientCidrs(fields.cidrs);
    if ('enabled' in fields) {
      if (typeof fields.enabled !== 'boolean')
        throw new BadRequestException(HTTP_MESSAGES.invalidClientEnabled());
      change.enabled = fields.enabled;
    }
    return change;
  }
}

function clientFields(body: unknown, known: ReadonlySet<string>, message: string): Record<string, unknown> {
  return knownFields(body, known, message, HTTP_MESSAGES.clientFieldUnknown());
}

/**
 * A JSON object body with only `known` fields (400 with `message` when it is
 * not an object): an unknown field is likely a typo, so a 400 saying
 * `unknownMessage` rather than a change silently not made.
 */
export function knownFields(
  body: unknown,
  known: ReadonlySet<string>,
  message: string,
  unknownMessage: string,
): Record<string, unknown> {
  const fields = jsonObject(body, message);
  if (Object.keys(fields).some((field) => !known.has(field))) throw new BadRequestException(unknownMessage);
  return fields;
}

/** A name, trimmed: 1–64 characters, none of them a control character. */
function clientName(value: unknown): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (name === '' || name.length > CLIENT_NAME_MAX_LENGTH || NOT_IN_NAME.test(name)) {
    throw new BadRequestException(HTTP_MESSAGES.invalidClientName(CLIENT_NAME_MAX_LENGTH));
  }
  return name;
}

/**
 * Well-formed appIds, each once. An appId that is not (yet) an account is
 * accepted: the key gets 40013 for it, as any caller does, until the account exists.
 */
function clientAppIds(value: unknown): string[] {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.length > CLIENT_MAX_APP_IDS ||
    !value.every((appId) => typeof appId === 'string' && APP_ID_PATTERN.test(appId))
  ) {
    throw new BadRequestException(HTTP_MESSAGES.invalidClientAppIds(CLIENT_MAX_APP_IDS));
  }
  return [...new Set(value as string[])];
}

/** Networks written one way (`normalizeCidr`), each once; none (absent, null or []) leaves TOKEN_CLIENT_ALLOWLIST alone. */
function clientCidrs(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > CLIENT_MAX_CIDRS) {
    throw new BadRequestException(HTTP_MESSAGES.invalidClientCidrs(CLIENT_MAX_CIDRS));
  }
  const cidrs = value.map((entry: unknown, index) => {
    const cidr =
      typeof entry === 'string' && entry.length <= CIDR_MAX_LENGTH ? normalizedCidr(entry) : undefined;
    if (cidr === undefined) {
      throw new BadRequestException(HTTP_MESSAGES.invalidClientCidrs(CLIENT_MAX_CIDRS, index + 1));
    }
    return cidr;
  });
  return [...new Set(cidrs)];
}

function normalizedCidr(entry: string): string | undefined {
  try {
    return normalizeCidr(entry);
  } catch (error) {
    if (error instanceof InvalidCidrError) return undefined;
    throw error;
  }
}

// ---------------------------------------------------------------------------
// Pass-through usage (/admin/passthrough)

/** Most rows of `GET /admin/passthrough`. */
export const USAGE_MAX_LIMIT = 500;
/** Rows of `GET /admin/passthrough` when `limit` is not given. */
export const USAGE_DEFAULT_LIMIT = 100;

/** Validates the `limit` of `GET /admin/passthrough`: 1–500, default 100. */
@Injectable()
export class UsageLimitPipe implements PipeTransform<unknown, number> {
  transform(value: unknown): number {
    return queryLimit(value, USAGE_DEFAULT_LIMIT, USAGE_MAX_LIMIT);
  }
}

/** Validates the `day` of `GET /admin/passthrough`: a real calendar day as `YYYY-MM-DD`, or none (today). */
@Injectable()
export class UsageDayPipe implements PipeTransform<unknown, string | undefined> {
  transform(value: unknown): string | undefined {
    if (value === undefined) return undefined;
    const parts = typeof value === 'string' ? /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(value) : null;
    if (!parts) throw new BadRequestException(HTTP_MESSAGES.invalidUsageDay());
    const [year, month, day] = parts.slice(1).map(Number);
    const date = new Date(Date.UTC(year, month - 1, day));
    // Date.UTC rolls 2025-02-30 over to March (and years below 100 to the 1900s): such a day does not exist.
    if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
      throw new BadRequestException(HTTP_MESSAGES.invalidUsageDay());
    }
    return value as string;
  }
}
