import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  ApiServiceUnavailableResponse,
} from '@nestjs/swagger';
import { WechatTokenService, type AccountStatus, type RefreshResult } from 'nestjs-wechat-token';
import { AuditLog, type AdminActor } from '../audit/audit-log.js';
import { refreshAsked, refreshFailed, tokenRefreshDone } from '../audit/refresh-audit.js';
import {
  AppIdPipe,
  HistoryCursorPipe,
  HistoryLimitPipe,
  RefreshRequestPipe,
  TimelineRangePipe,
  type RefreshRequest,
} from '../http/input-validation.js';
import { CurrentAdmin } from './admin-actor.js';
import {
  AccountStatusDto,
  ApiHistoryQuery,
  APP_ID_PARAM,
  ApiErrorDto,
  HistoryPageDto,
  RefreshRefusedDto,
  RefreshRequestDto,
  RefreshResultDto,
  UpstreamErrorDto,
} from './admin.dto.js';
import { TimelineDto } from './admin-timeline.dto.js';
import { HistoryService, type HistoryPage } from './history.service.js';
import { TIMELINE_RANGES, TimelineService, type Timeline, type TimelineRange } from './timeline.service.js';
import { AdminRoutes } from './admin-routes.decorator.js';

/** The operator's view of the accounts: status, forced refresh, token history (tickets: `AdminTicketsController`). */
@AdminRoutes()
@Controller('admin/accounts')
export class AdminController {
  constructor(
    private readonly tokens: WechatTokenService,
    private readonly history: HistoryService,
    private readonly timelines: TimelineService,
    private readonly audit: AuditLog,
  ) {}

  @Get()
  @ApiOperation({ summary: "Every account's status" })
  @ApiOkResponse({ type: [AccountStatusDto] })
  list(): Promise<AccountStatus[]> {
    return this.tokens.status();
  }

  @Get(':appId')
  @ApiOperation({ summary: "One account's status" })
  @ApiParam(APP_ID_PARAM)
  @ApiOkResponse({ type: AccountStatusDto })
  @ApiBadRequestResponse({ description: 'Malformed appId.', type: ApiErrorDto })
  @ApiNotFoundResponse({ description: 'Not a configured account.', type: ApiErrorDto })
  get(@Param('appId', AppIdPipe) appId: string): Promise<AccountStatus> {
    return this.tokens.status(appId);
  }

  /** Audited as `token.refresh` whatever the outcome (see `refreshFailed`): an attempt is a write asked for. */
  @Post(':appId/refresh')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Forced refresh',
    description:
      'Checks the token (`staleToken`, or else the current one) at WeChat first: if it still works, nothing is ' +
      'fetched (`refresh: "still_works"`); if it is no longer the current one, nothing is fetched ' +
      '(`already_replaced`); if WeChat rejects it, it is no longer served on any replica and a new token is fetched. ' +
      '`{"force": true}` skips the check (an override, logged). Forced refreshes of one account are at least ' +
      'FORCE_REFRESH_MIN_INTERVAL_SECONDS apart across the whole cluster. Every attempt (refused and failed ' +
      'ones too) is recorded in the audit (`token.refresh`).',
  })
  @ApiParam(APP_ID_PARAM)
  @ApiBody({ type: RefreshRequestDto, required: false })
  @ApiOkResponse({ description: 'The status after the refresh, and what it did.', type: RefreshResultDto })
  @ApiBadRequestResponse({ description: 'Malformed appId or body.', type: ApiErrorDto })
  @ApiNotFoundResponse({ description: 'Not a configured account.', type: ApiErrorDto })
  @ApiResponse({
    status: 429,
    description: 'Too soon after the last forced refresh, or the daily quota is used up; see Retry-After.',
    type: RefreshRefusedDto,
  })
  @ApiResponse({
    status: 502,
    description: 'WeChat answered with an error; the previous token stays served.',
    type: UpstreamErrorDto,
  })
  @ApiResponse({
    status: 503,
    description:
      'Database unavailable, another replica is refreshing, or the token could not be checked at WeChat; see Retry-After.',
    type: ApiErrorDto,
  })
  refresh(
    @Param('appId', AppIdPipe) appId: string,
    @Body(RefreshRequestPipe) body: RefreshRequest,
    @CurrentAdmin() actor: AdminActor,
  ): Promise<RefreshResult> {
    return this.audit.recordAttempt(
      { actor, action: 'token.refresh', target: appId, details: refreshAsked(body) },
      () => this.tokens.refresh(appId, body),
      tokenRefreshDone,
      refreshFailed,
    );
  }

  @Get(':appId/history')
  @ApiOperation({ summary: 'Token history from `access_token`, newest first, keyset-paged' })
  @ApiParam(APP_ID_PARAM)
  @ApiHistoryQuery()
  @ApiOkResponse({ type: HistoryPageDto })
  @ApiBadRequestResponse({ description: 'Malformed appId, limit or before.', type: ApiErrorDto })
  @ApiNotFoundResponse({ description: 'Not a configured account.', type: ApiErrorDto })
  historyPage(
    @Param('appId', AppIdPipe) appId: string,
    @Query('limit', HistoryLimitPipe) limit: number,
    @Query('before', HistoryCursorPipe) before: string | undefined,
  ): Promise<HistoryPage> {
    return this.history.tokenPage(appId, limit, before);
  }

  @Get(':appId/timeline')
  @ApiOperation({
    summary:
      'Tokens, tickets and calls to WeChat over the last hour, 24 hours or 7 days (what /admin/ui draws)',
    description:
      'From `access_token`, `wechat_ticket` and `token_fetch_attempt`: each value with when it was fetched, ' +
      'replaced, worked beside the next one (the overlap) and expires (masked: first and last 4 characters), ' +
      "and each call with its outcome, errcode and what to do about it. A disabled account's too.",
  })
  @ApiParam(APP_ID_PARAM)
  @ApiQuery({ name: 'range', required: false, enum: TIMELINE_RANGES, schema: { default: '24h' } })
  @ApiOkResponse({ type: TimelineDto })
  @ApiBadRequestResponse({ description: 'Malformed appId or range.', type: ApiErrorDto })
  @ApiNotFoundResponse({ description: 'Not an account of this server.', type: ApiErrorDto })
  @ApiServiceUnavailableResponse({ description: 'Database unavailable.', type: ApiErrorDto })
  timeline(
    @Param('appId', AppIdPipe) appId: string,
    @Query('range', TimelineRangePipe) range: TimelineRange,
  ): Promise<Timeline> {
    return this.timelines.timeline(appId, range);
  }
}
