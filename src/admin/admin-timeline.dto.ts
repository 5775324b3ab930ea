import { ApiProperty } from '@nestjs/swagger';
import type { AttemptOutcome, CredentialKind, FetchEndpoint, TokenSource } from 'nestjs-wechat-token';
import {
  TIMELINE_MAX_ATTEMPTS,
  TIMELINE_MAX_BARS,
  TIMELINE_RANGES,
  type AttemptClass,
  type Timeline,
  type TimelineAttempt,
  type TimelineBar,
  type TimelineCredential,
  type TimelineRange,
} from './timeline.service.js';
import { HistoryRowDto, TOKEN_SOURCES } from './admin.dto.js';

// Shapes of GET /admin/accounts/:appId/timeline, for the OpenAPI description.
// They mirror the service's types (`implements`), so the two cannot drift apart.

const CREDENTIAL_KINDS: CredentialKind[] = ['access_token', 'jsapi', 'wx_card'];
const OUTCOMES: AttemptOutcome[] = [
  'ok',
  'unchanged',
  'errcode',
  'timeout',
  'network',
  'http',
  'body',
  'not_sent',
];
const ATTEMPT_CLASSES: AttemptClass[] = [
  'ok',
  'unchanged',
  'pending',
  'unknown',
  'transient',
  'config',
  'quota',
  'refused',
  'force_limit',
  'stale_token',
];
const ENDPOINTS: FetchEndpoint[] = ['token', 'stable_token', 'getticket'];

/** One token or ticket: a bar from `fetchedAt` to `expiresAt`. */
export class TimelineBarDto extends HistoryRowDto implements TimelineBar {
  @ApiProperty({
    type: 'string',
    nullable: true,
    example: '86_A…xQ9z',
    description: 'First and last 4 characters.',
  })
  value!: string | null;
  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description: 'When the next value was fetched; null while this is the newest.',
  })
  replacedAt!: string | null;
  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description:
      'Until when it still worked beside the next value: replacedAt + WECHAT_TOKEN_OVERLAP_SECONDS, at most ' +
      'expiresAt. Dead after it. Null while not replaced, or when replaced after it expired.',
  })
  overlapEndsAt!: string | null;
  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description: 'When WeChat was seen rejecting it after a stale report.',
  })
  reportedDeadAt!: string | null;
}

/** One credential's values in the window. */
export class TimelineCredentialDto implements TimelineCredential {
  @ApiProperty({ enum: CREDENTIAL_KINDS })
  kind!: CredentialKind;
  @ApiProperty({ type: [TimelineBarDto], description: 'Oldest first.' })
  bars!: TimelineBarDto[];
  @ApiProperty({
    description: `Whether older values were left out (at most ${TIMELINE_MAX_BARS}, newest kept).`,
  })
  truncated!: boolean;
}

/** One call to WeChat's token or ticket API (a row of `token_fetch_attempt`). */
export class TimelineAttemptDto implements TimelineAttempt {
  @ApiProperty({ example: '311' })
  id!: string;
  @ApiProperty({ enum: CREDENTIAL_KINDS })
  kind!: CredentialKind;
  @ApiProperty({ format: 'date-time' })
  attemptedAt!: string;
  @ApiProperty({ enum: ENDPOINTS })
  endpoint!: FetchEndpoint;
  @ApiProperty({
    enum: TOKEN_SOURCES,
    description: '`forced`, `stale_report` and `override` are refreshes someone asked for.',
  })
  source!: TokenSource;
  @ApiProperty({ description: 'A stable_token call with force_refresh.' })
  forceRefresh!: boolean;
  @ApiProperty({ enum: OUTCOMES, nullable: true, description: 'Null: no result recorded (yet).' })
  outcome!: AttemptOutcome | null;
  @ApiProperty({ type: 'integer', nullable: true, example: 40164 })
  errcode!: number | null;
  @ApiProperty({ type: 'string', nullable: true })
  errmsg!: string | null;
  @ApiProperty({ type: 'integer', nullable: true })
  latencyMs!: number | null;
  @ApiProperty({ description: 'The replica that made the call.' })
  instanceId!: string;
  @ApiProperty({
    enum: ATTEMPT_CLASSES,
    description:
      '`pending`: no result yet, may be under way; `unknown`: no result recorded, or a timeout, broken connection, ' +
      'HTTP error or garbage (WeChat may have issued a value); `transient`: -1 or not sent (retried with ' +
      'backoff); `config`: 40164, 40125, 40013, 89503… (retrying cannot fix it); `quota`: 45009; `refused`: the ' +
      "admin's 89506/89507 (it refused this IP); `force_limit`: 45011; `stale_token`: a ticket fetch with a token WeChat rejected.",
  })
  class!: AttemptClass;
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'What an operator should do about a failure; null for successes and calls under way.',
  })
  hint!: string | null;
}

/** An account's tokens, tickets and calls to WeChat over the last hour, 24 hours or 7 days. */
export class TimelineDto implements Timeline {
  @ApiProperty()
  appId!: string;
  @ApiProperty({ enum: TIMELINE_RANGES })
  range!: TimelineRange;
  @ApiProperty({ format: 'date-time', description: 'Start of the window (the database clock).' })
  from!: string;
  @ApiProperty({ format: 'date-time', description: "End of the window: the database's now." })
  to!: string;
  @ApiProperty({ example: 300, description: 'WECHAT_TOKEN_OVERLAP_SECONDS.' })
  overlapSeconds!: number;
  @ApiProperty({
    type: [TimelineCredentialDto],
    description: 'The access_token first, then each ticket type the account keeps (or kept in the window).',
  })
  credentials!: TimelineCredentialDto[];
  @ApiProperty({ type: [TimelineAttemptDto], description: 'Oldest first.' })
  attempts!: TimelineAttemptDto[];
  @ApiProperty({
    description: `Whether older calls were left out (at most ${TIMELINE_MAX_ATTEMPTS}, newest kept).`,
  })
  attemptsTruncated!: boolean;
}
