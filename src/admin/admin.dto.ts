import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiQuery, type ApiParamOptions } from '@nestjs/swagger';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT } from '../http/input-validation.js';
import { TICKET_TYPES } from 'nestjs-wechat-token';
import type {
  AccountStatus,
  CredentialStatus,
  JsapiSignature,
  JsapiSignatureMistake,
  LastError,
  QuotaResumeResult,
  RefreshAction,
  RefreshResult,
  TicketRefreshResult,
  TicketStatus,
  TicketType,
  TokenMode,
  TokenRisk,
  TokenSource,
} from 'nestjs-wechat-token';
import type { HistoryEntry, HistoryPage, TicketHistoryEntry, TicketHistoryPage } from './history.service.js';

// Shapes of the admin API's answers, for the OpenAPI description. They mirror
// the service's types (`implements`), so the two cannot drift apart.

/** The `:appId` path parameter, as every admin route describes it. */
/** The `limit` and `before` query parameters of a keyset-paged history (see `HistoryLimitPipe`, `HistoryCursorPipe`). */
export function ApiHistoryQuery(): MethodDecorator {
  return applyDecorators(
    ApiQuery({
      name: 'limit',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: HISTORY_MAX_LIMIT, default: HISTORY_DEFAULT_LIMIT },
    }),
    ApiQuery({
      name: 'before',
      required: false,
      description: 'Row id: only older rows (the `nextBefore` of the previous page).',
      schema: { type: 'string', pattern: '^[1-9][0-9]{0,18}$' },
    }),
  );
}

export const APP_ID_PARAM: ApiParamOptions = {
  name: 'appId',
  description: '1–64 letters, digits, "_" or "-"',
  example: 'wx1234567890abcdef',
};

/** The `:type` path parameter of the ticket routes. */
export const TICKET_TYPE_PARAM: ApiParamOptions = {
  name: 'type',
  enum: [...TICKET_TYPES],
  description: '`jsapi` (JS-SDK) or `wx_card` (cards); the account must keep it (a WECHAT_ACCOUNTS flag).',
};

const TOKEN_MODES: TokenMode[] = ['token', 'stable'];
const REFRESH_ACTION = {
  enum: ['fetched', 'still_works', 'already_replaced', 'unchanged'],
  description:
    '`fetched`: a new token; `still_works`: WeChat accepts the current token, nothing fetched; ' +
    '`already_replaced`: the reported token is no longer current; `unchanged`: stable_token handed back the same token.',
};
const JSAPI_MISTAKES: JsapiSignatureMistake[] = [
  'url_has_fragment',
  'url_encoded',
  'timestamp_in_ms',
  'other_ticket',
  'invalid_input',
];
export const TOKEN_SOURCES: TokenSource[] = [
  'startup',
  'schedule',
  'forced',
  'stale_report',
  'on_demand',
  'override',
];

/** The last failure of an account. */
export class LastErrorDto implements LastError {
  @ApiProperty({ example: 40164, description: "WeChat's errcode (-1 for a transport failure)." })
  errcode!: number;
  @ApiProperty({
    example: 'invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist rid: 5f386c70-441d34a9-7baebd7c',
  })
  errmsg!: string;
  @ApiProperty({ description: 'What an operator should do about it.' })
  hint!: string;
  @ApiProperty({ format: 'date-time' })
  at!: string;
}

/** What status shows of any credential: the access_token or a ticket. */
export class CredentialStatusDto implements CredentialStatus {
  @ApiProperty({ description: 'Whether a value that is still valid is held.' })
  usable!: boolean;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true })
  fetchedAt!: string | null;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true })
  expiresAt!: string | null;
  @ApiProperty({ description: 'Seconds the held value still lives (0 when none).' })
  expiresIn!: number;
  @ApiProperty({
    description:
      'The `expires_in` a client is handed with the token now: how long WeChat is sure to keep it, counting every ' +
      'call to WeChat of the whole cluster, less a margin (0: the token is not handed out).',
  })
  servedExpiresIn!: number;
  @ApiProperty({
    enum: ['unknown_fetch', 'unsettled', 'reported_dead'],
    nullable: true,
    description:
      '`unknown_fetch`: a call to WeChat of unknown outcome may have replaced the token, which is promised only ' +
      'until the next fetch; `unsettled`: more such calls followed, the token may be dead and is not handed out; ' +
      '`reported_dead`: WeChat rejected it after a stale-token report. Null when nothing shortens its life.',
  })
  risk!: TokenRisk | null;
  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description: 'When the scheduled refresh is planned.',
  })
  nextRefreshAt!: string | null;
  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description: 'Fetches are held back until then.',
  })
  blockedUntil!: string | null;
  @ApiProperty({ type: 'string', nullable: true, example: 'backoff' })
  blockedReason!: string | null;
  @ApiProperty({ type: LastErrorDto, nullable: true })
  lastError!: LastErrorDto | null;
  @ApiProperty({
    type: 'integer',
    nullable: true,
    description:
      'Calls to WeChat since midnight Asia/Shanghai, all replicas (null while the database is down).',
  })
  upstreamCallsToday!: number | null;
  @ApiProperty({ description: 'Upstream calls allowed per day.' })
  dailyQuota!: number;
  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description:
      "When the account's quota was last resumed today (POST /admin/accounts/:appId/quota/resume): the quota " +
      'counts the calls made since then (`upstreamCallsToday` still counts from midnight). Null when not today.',
  })
  quotaResumedAt!: string | null;
}

/** One ticket of an account. */
export class TicketStatusDto extends CredentialStatusDto implements TicketStatus {
  @ApiProperty({ enum: TICKET_TYPES })
  type!: TicketType;
  @ApiProperty({
    type: 'string',
    nullable: true,
    example: 'kgt8…Ow6w',
    description: 'First and last 4 characters.',
  })
  ticket!: string | null;
  @ApiProperty({ type: 'string', nullable: true, description: 'Row id of the ticket in `wechat_ticket`.' })
  ticketId!: string | null;
}

/** One account's state. */
export class AccountStatusDto extends CredentialStatusDto implements AccountStatus {
  @ApiProperty({ example: 'wx1234567890abcdef' })
  appId!: string;
  @ApiProperty({
    enum: TOKEN_MODES,
    description: '`token`: GET /cgi-bin/token; `stable`: POST /cgi-bin/stable_token.',
  })
  mode!: TokenMode;
  @ApiProperty({
    type: 'string',
    nullable: true,
    example: '86_A…xQ9z',
    description: 'First and last 4 characters.',
  })
  token!: string | null;
  @ApiProperty({ type: 'string', nullable: true, description: 'Row id of the token in `access_token`.' })
  tokenId!: string | null;
  @ApiProperty({
    type: [TicketStatusDto],
    description: 'The tickets the account keeps (none unless configured).',
  })
  tickets!: TicketStatusDto[];
}

/** What a row of the token and of a ticket history share. */
export class HistoryRowDto {
  @ApiProperty({ example: '42' })
  id!: string;
  @ApiProperty({ format: 'date-time' })
  fetchedAt!: string;
  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;
  @ApiProperty({ enum: TOKEN_SOURCES })
  source!: TokenSource;
  @ApiProperty({ type: 'string', nullable: true, description: 'The replica that fetched it.' })
  instanceId!: string | null;
}

/** One row of the token history. */
export class HistoryEntryDto extends HistoryRowDto implements HistoryEntry {
  @ApiProperty({
    type: 'string',
    nullable: true,
    example: '86_A…xQ9z',
    description: 'First and last 4 characters.',
  })
  token!: string | null;
  @ApiProperty({ enum: TOKEN_MODES })
  mode!: TokenMode;
}

/** One page of the token history, newest first. */
export class HistoryPageDto implements HistoryPage {
  @ApiProperty()
  appId!: string;
  @ApiProperty({ type: [HistoryEntryDto] })
  items!: HistoryEntryDto[];
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as `before` for the next (older) page; null on the last.',
  })
  nextBefore!: string | null;
}

/** Body of a forced refresh. */
export class RefreshRequestDto {
  @ApiPropertyOptional({
    description:
      'The token a caller saw rejected (40001/42001). It is checked at WeChat first: if it still works, or is no ' +
      'longer the current token, nothing is fetched; if WeChat rejects it, it is no longer served and is replaced.',
  })
  staleToken?: string;
  @ApiPropertyOptional({
    description:
      'Replace the current token without checking it at WeChat (logged as an override). WeChat kills the old token ' +
      'one overlap later, which may be sooner than the expires_in clients were given with it.',
  })
  force?: boolean;
}

/** The status after a forced refresh, with what the refresh did. */
export class RefreshResultDto extends AccountStatusDto implements RefreshResult {
  @ApiProperty(REFRESH_ACTION)
  refresh!: RefreshAction;
}

/** The status after a quota resume, with whether the quota was resumed. */
export class QuotaResumeResultDto extends AccountStatusDto implements QuotaResumeResult {
  @ApiProperty({
    description:
      '`true`: the quota held fetches back; a reset was recorded for every replica and what was due fetched at once ' +
      '(`lastError` and `blockedReason` say if WeChat answered 45009 again). `false`: the quota held nothing back, ' +
      'nothing was done.',
  })
  resumed!: boolean;
}

/** A ticket's status after its forced refresh, with what the refresh did. */
export class TicketRefreshResultDto extends TicketStatusDto implements TicketRefreshResult {
  @ApiProperty({
    enum: ['fetched', 'already_replaced'],
    description:
      '`fetched`: a new ticket; `already_replaced`: another replica replaced it meanwhile, nothing fetched here.',
  })
  refresh!: RefreshAction;
}

/** One row of a ticket history. */
export class TicketHistoryEntryDto extends HistoryRowDto implements TicketHistoryEntry {
  @ApiProperty({ enum: TICKET_TYPES })
  type!: TicketType;
  @ApiProperty({
    type: 'string',
    nullable: true,
    example: 'kgt8…Ow6w',
    description: 'First and last 4 characters.',
  })
  ticket!: string | null;
}

/** One page of a ticket history, newest first. */
export class TicketHistoryPageDto implements TicketHistoryPage {
  @ApiProperty()
  appId!: string;
  @ApiProperty({ enum: TICKET_TYPES })
  type!: TicketType;
  @ApiProperty({ type: [TicketHistoryEntryDto] })
  items!: TicketHistoryEntryDto[];
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as `before` for the next (older) page; null on the last.',
  })
  nextBefore!: string | null;
}

/** Body of a JS-SDK signature request. */
export class JsapiSignatureRequestDto {
  @ApiProperty({
    example: 'https://example.com/page?id=1',
    description: "The page's absolute URL (`location.href`); a `#` part is dropped, as `wx.config` does.",
  })
  url!: string;
  @ApiPropertyOptional({ description: '1–64 letters, digits, "-" or "_"; made up when left out.' })
  nonceStr?: string;
  @ApiPropertyOptional({ description: 'Seconds since 1970 (not milliseconds); now when left out.' })
  timestamp?: number;
}

/** What a page passes to `wx.config` (with its `jsApiList`). The ticket is never in it. */
export class JsapiSignatureDto implements JsapiSignature {
  @ApiProperty({ example: 'wx1234567890abcdef' })
  appId!: string;
  @ApiProperty({ example: 1700000000, description: 'Seconds since 1970.' })
  timestamp!: number;
  @ApiProperty({ example: 'Wm3WZYTPz0wzccnW' })
  nonceStr!: string;
  @ApiProperty({ example: '0f9de62fce790f9a083d5c99e95740ceb90c27ed', description: 'sha1, lowercase hex.' })
  signature!: string;
}

/** Body of a signature check: the page's URL and what it passed to `wx.config`. */
export class JsapiSignatureCheckRequestDto {
  @ApiProperty({
    example: 'https://example.com/page?id=1#top',
    description: '`location.href`; a `#` part is fine.',
  })
  url!: string;
  @ApiProperty({ example: 'Wm3WZYTPz0wzccnW' })
  nonceStr!: string;
  @ApiProperty({
    oneOf: [{ type: 'integer' }, { type: 'string', pattern: '^[0-9]{1,16}$' }],
    example: 1700000000,
  })
  timestamp!: number | string;
  @ApiProperty({ example: '0f9de62fce790f9a083d5c99e95740ceb90c27ed' })
  signature!: string;
}

/** Why a signature does (not) verify. Never holds a ticket. */
export class JsapiSignatureDiagnosisDto {
  @ApiProperty({
    enum: ['current', 'previous', 'none'],
    description:
      'The jsapi_ticket the signature verifies with (`previous`: the one just replaced, still accepted by WeChat ' +
      'for a few minutes), or `none`.',
  })
  matches!: 'current' | 'previous' | 'none';
  @ApiPropertyOptional({
    enum: JSAPI_MISTAKES,
    description:
      'With `none`: the usual mistake it looks like. `url_has_fragment`: signed with the `#…` part; ' +
      '`url_encoded`: signed an escaped (or unescaped) URL; `timestamp_in_ms`: milliseconds for seconds (or the ' +
      "reverse); `other_ticket`: no ticket of the center made it; `invalid_input`: not a page's input (a relative URL…).",
  })
  mistake?: JsapiSignatureMistake;
  @ApiPropertyOptional({
    enum: ['current', 'previous'],
    description: 'With a mistake: the ticket the signature verifies with once the mistake is undone.',
  })
  signedWith?: 'current' | 'previous';
  @ApiProperty({ description: 'What to fix, in words.' })
  message!: string;
}

/** The error body of the admin API and of every non-WeChat route. */
export class ApiErrorDto {
  @ApiProperty({ example: 400 })
  statusCode!: number;
  @ApiProperty({ example: 'Bad Request' })
  error!: string;
  @ApiProperty({ example: 'limit must be an integer from 1 to 500.' })
  message!: string;
}

/** 429/503: a refresh refused before calling WeChat (with `Retry-After`). */
export class RefreshRefusedDto extends ApiErrorDto {
  @ApiProperty({ enum: ['min_interval', 'quota', 'backoff', 'stable_force_limit', 'lock_busy'] })
  reason!: string;
  @ApiProperty({ description: 'Same as the Retry-After header.' })
  retryAfterSeconds!: number;
}

/** 502: WeChat answered the forced refresh with an error. */
export class UpstreamErrorDto extends ApiErrorDto {
  @ApiProperty({ example: 40164 })
  errcode!: number;
  @ApiProperty()
  errmsg!: string;
  @ApiProperty({ description: 'What an operator should do about it.' })
  hint!: string;
}
