import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
} from '@nestjs/swagger';
import {
  WechatTokenService,
  type JsapiSignature,
  type JsapiSignatureDiagnosis,
  type JsapiSignatureInput,
  type TicketRefreshResult,
  type TicketType,
} from 'nestjs-wechat-token';
import { AuditLog, type AdminActor } from '../audit/audit-log.js';
import { refreshFailed, ticketRefreshDone } from '../audit/refresh-audit.js';
import {
  AppIdPipe,
  HistoryCursorPipe,
  HistoryLimitPipe,
  JsapiSignatureCheckPipe,
  JsapiSignatureRequestPipe,
  TicketTypePipe,
  type JsapiSignatureRequest,
} from '../http/input-validation.js';
import { CurrentAdmin } from './admin-actor.js';
import {
  ApiHistoryQuery,
  APP_ID_PARAM,
  ApiErrorDto,
  JsapiSignatureCheckRequestDto,
  JsapiSignatureDiagnosisDto,
  JsapiSignatureDto,
  JsapiSignatureRequestDto,
  RefreshRefusedDto,
  TICKET_TYPE_PARAM,
  TicketHistoryPageDto,
  TicketRefreshResultDto,
  UpstreamErrorDto,
} from './admin.dto.js';
import { HistoryService, type TicketHistoryPage } from './history.service.js';
import { AdminRoutes } from './admin-routes.decorator.js';

const NOT_KEPT = {
  description:
    'The account does not keep this ticket type: the message names the WECHAT_ACCOUNTS flag to add. ' +
    '(409, not 404: the account and the type exist; the server is configured not to keep it.)',
  type: ApiErrorDto,
};
const UNKNOWN_ACCOUNT = { description: 'Not a configured account.', type: ApiErrorDto };

/**
 * The operator's view of the tickets (jsapi, wx_card): forced refresh and
 * history per type, and the JS-SDK signature of a page made here (the
 * jsapi_ticket never leaves the center) or checked here (why `wx.config`
 * says "invalid signature"). Tickets also show in the account status.
 */
@AdminRoutes()
@Controller('admin/accounts/:appId')
export class AdminTicketsController {
  constructor(
    private readonly tokens: WechatTokenService,
    private readonly history: HistoryService,
    private readonly audit: AuditLog,
  ) {}

  /** Audited as `ticket.refresh` of `appId/type` whatever the outcome (see `refreshFailed`). */
  @Post('tickets/:type/refresh')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Forced ticket refresh',
    description:
      'Fetches a new ticket of this type now, with the current access_token. The ticket held may still work: ' +
      'WeChat kills it one overlap later, whatever expires_in clients were given (logged as an override). ' +
      'Rate-limited like a forced token refresh: at least FORCE_REFRESH_MIN_INTERVAL_SECONDS apart per account ' +
      'and type across the cluster, within the daily quota, never while a call of unknown outcome may still land. ' +
      'Every attempt (refused and failed ones too) is recorded in the audit (`ticket.refresh`).',
  })
  @ApiParam(APP_ID_PARAM)
  @ApiParam(TICKET_TYPE_PARAM)
  @ApiOkResponse({
    description: "The ticket's status after the refresh, and what it did.",
    type: TicketRefreshResultDto,
  })
  @ApiBadRequestResponse({
    description: 'Malformed appId, or a type other than jsapi / wx_card.',
    type: ApiErrorDto,
  })
  @ApiNotFoundResponse(UNKNOWN_ACCOUNT)
  @ApiConflictResponse(NOT_KEPT)
  @ApiResponse({
    status: 429,
    description: 'Too soon after the last forced refresh, or the daily quota is used up; see Retry-After.',
    type: RefreshRefusedDto,
  })
  @ApiResponse({
    status: 502,
    description: 'WeChat answered with an error; the previous ticket stays served.',
    type: UpstreamErrorDto,
  })
  @ApiResponse({
    status: 503,
    description:
      'Database unavailable, another replica is refreshing, or no access_token to fetch with; see Retry-After.',
    type: ApiErrorDto,
  })
  refreshTicket(
    @Param('appId', AppIdPipe) appId: string,
    @Param('type', TicketTypePipe) type: TicketType,
    @CurrentAdmin() actor: AdminActor,
  ): Promise<TicketRefreshResult> {
    return this.audit.recordAttempt(
      { actor, action: 'ticket.refresh', target: `${appId}/${type}` },
      () => this.tokens.refreshTicket(appId, type),
      ticketRefreshDone,
      refreshFailed,
    );
  }

  @Get('tickets/:type/history')
  @ApiOperation({
    summary: 'Ticket history from `wechat_ticket`, newest first, keyset-paged, tickets masked',
  })
  @ApiParam(APP_ID_PARAM)
  @ApiParam(TICKET_TYPE_PARAM)
  @ApiHistoryQuery()
  @ApiOkResponse({ type: TicketHistoryPageDto })
  @ApiBadRequestResponse({ description: 'Malformed appId, type, limit or before.', type: ApiErrorDto })
  @ApiNotFoundResponse(UNKNOWN_ACCOUNT)
  @ApiConflictResponse(NOT_KEPT)
  historyPage(
    @Param('appId', AppIdPipe) appId: string,
    @Param('type', TicketTypePipe) type: TicketType,
    @Query('limit', HistoryLimitPipe) limit: number,
    @Query('before', HistoryCursorPipe) before: string | undefined,
  ): Promise<TicketHistoryPage> {
    return this.history.ticketPage(appId, type, limit, before);
  }

  @Post('jsapi-signature')
  @HttpCode(200)
  @ApiOperation({
    summary: "A page's JS-SDK signature, for wx.config",
    description:
      'Signs the page URL with the current jsapi_ticket (fetched first if none is held): the answer is what ' +
      '`wx.config` takes besides `jsApiList`. The ticket itself is never sent. The account must keep jsapi tickets.',
  })
  @ApiParam(APP_ID_PARAM)
  @ApiBody({ type: JsapiSignatureRequestDto })
  @ApiOkResponse({ type: JsapiSignatureDto })
  @ApiBadRequestResponse({
    description:
      'Malformed appId or body: a URL that is not an absolute http(s) one, a bad nonceStr or timestamp.',
    type: ApiErrorDto,
  })
  @ApiNotFoundResponse(UNKNOWN_ACCOUNT)
  @ApiConflictResponse(NOT_KEPT)
  @ApiResponse({ status: 503, description: 'No jsapi_ticket can be had now.', type: ApiErrorDto })
  sign(
    @Param('appId', AppIdPipe) appId: string,
    @Body(JsapiSignatureRequestPipe) body: JsapiSignatureRequest,
  ): Promise<JsapiSignature> {
    return this.tokens.jsapiSignature(appId, body.url, {
      nonceStr: body.nonceStr,
      timestamp: body.timestamp,
    });
  }

  @Post('jsapi-signature/check')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Why wx.config says "invalid signature"',
    description:
      "Checks a page's signature against the current and the previous jsapi_ticket and, when neither made it, " +
      'names the usual mistake it looks like (URL with its #… part, URL escaped, timestamp in milliseconds, ' +
      "another ticket). An input that cannot be a page's (a relative URL…) is answered as the mistake " +
      '`invalid_input`. Never answers a ticket.',
  })
  @ApiParam(APP_ID_PARAM)
  @ApiBody({ type: JsapiSignatureCheckRequestDto })
  @ApiOkResponse({ type: JsapiSignatureDiagnosisDto })
  @ApiBadRequestResponse({
    description: 'Malformed appId, or a field missing or of the wrong type.',
    type: ApiErrorDto,
  })
  @ApiNotFoundResponse(UNKNOWN_ACCOUNT)
  @ApiConflictResponse(NOT_KEPT)
  check(
    @Param('appId', AppIdPipe) appId: string,
    @Body(JsapiSignatureCheckPipe) body: JsapiSignatureInput,
  ): JsapiSignatureDiagnosis {
    return this.tokens.checkJsapiSignature(appId, body);
  }
}
