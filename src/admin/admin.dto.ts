import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type {
  AccountStatus,
  LastError,
  RefreshAction,
  RefreshResult,
  TokenMode,
  TokenRisk,
  TokenSource,
} from 'nestjs-wechat-token';
import type { HistoryEntry, HistoryPage } from './token-history.service.js';

// Shapes of the admin API's answers, for the OpenAPI description. They mirror
// the service's types (`implements`), so the two cannot drift apart.

const TOKEN_MODES: TokenMode[] = ['token', 'stable'];
const TOKEN_SOURCES: TokenSource[] = [
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

/** One account's state. */
export class AccountStatusDto implements AccountStatus {
  @ApiProperty({ example: 'wx1234567890abcdef' })
  appId!: string;
  @ApiProperty({
    enum: TOKEN_MODES,
    description: '`token`: GET /cgi-bin/token; `stable`: POST /cgi-bin/stable_token.',
  })
  mode!: TokenMode;
  @ApiProperty({ description: 'Whether a token that is still valid is held.' })
  usable!: boolean;
  @ApiProperty({
    type: 'string',
    nullable: true,
    example: '86_A…xQ9z',
    description: 'First and last 4 characters.',
  })
  token!: string | null;
  @ApiProperty({ type: 'string', nullable: true, description: 'Row id of the token in `access_token`.' })
  tokenId!: string | null;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true })
  fetchedAt!: string | null;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true })
  expiresAt!: string | null;
  @ApiProperty({ description: 'Seconds the held token still lives (0 when none).' })
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
}

/** One row of the token history. */
export class HistoryEntryDto implements HistoryEntry {
  @ApiProperty({ example: '42' })
  id!: string;
  @ApiProperty({
    type: 'string',
    nullable: true,
    example: '86_A…xQ9z',
    description: 'First and last 4 characters.',
  })
  token!: string | null;
  @ApiProperty({ format: 'date-time' })
  fetchedAt!: string;
  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;
  @ApiProperty({ enum: TOKEN_SOURCES })
  source!: TokenSource;
  @ApiProperty({ enum: TOKEN_MODES })
  mode!: TokenMode;
  @ApiProperty({ type: 'string', nullable: true, description: 'The replica that fetched it.' })
  instanceId!: string | null;
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
  @ApiProperty({
    enum: ['fetched', 'still_works', 'already_replaced', 'unchanged'],
    description:
      '`fetched`: a new token; `still_works`: WeChat accepts the current token, nothing fetched; ' +
      '`already_replaced`: the reported token is no longer current; `unchanged`: stable_token handed back the same token.',
  })
  refresh!: RefreshAction;
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
