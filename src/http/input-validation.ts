import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import { APP_ID_PATTERN } from 'nestjs-wechat-token';
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
    if (value === undefined) return HISTORY_DEFAULT_LIMIT;
    if (typeof value !== 'string' || !/^[0-9]{1,3}$/.test(value)) {
      throw new BadRequestException(HTTP_MESSAGES.invalidLimit(HISTORY_MAX_LIMIT));
    }
    const limit = Number(value);
    if (limit < 1 || limit > HISTORY_MAX_LIMIT)
      throw new BadRequestException(HTTP_MESSAGES.invalidLimit(HISTORY_MAX_LIMIT));
    return limit;
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
