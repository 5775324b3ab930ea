import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
} from '@nestjs/swagger';
import { WechatTokenService, type QuotaResumeResult } from 'nestjs-wechat-token';
import { AccountChangePipe, NewAccountPipe } from '../accounts/account-input.js';
import {
  AccountRegistry,
  type AccountChange,
  type AccountSettings,
  type NewAccount,
} from '../accounts/account-registry.js';
import { AuditLog, type AdminActor } from '../audit/audit-log.js';
import { quotaResumeDone } from '../audit/quota-resume-audit.js';
import { refreshFailed } from '../audit/refresh-audit.js';
import { AppIdPipe } from '../http/input-validation.js';
import { CurrentAdmin } from './admin-actor.js';
import { AccountChangeDto, AccountSettingsDto, NewAccountDto } from './admin-accounts.dto.js';
import { ApiErrorDto, APP_ID_PARAM, QuotaResumeResultDto, RefreshRefusedDto } from './admin.dto.js';
import { AdminRoutes } from './admin-routes.decorator.js';

/**
 * Accounts at runtime: added, changed and disabled without a restart; every
 * replica applies a change within `RUNTIME_SYNC_MS` (NOTIFY: at once).
 * Accounts of `WECHAT_ACCOUNTS` are listed but changed only there. And an
 * account's quota resumed after it was cleared at WeChat.
 */
@AdminRoutes()
@Controller('admin')
export class AdminAccountsController {
  constructor(
    private readonly accounts: AccountRegistry,
    private readonly tokens: WechatTokenService,
    private readonly audit: AuditLog,
  ) {}

  @Get('account-settings')
  @ApiOperation({ summary: "Every account's settings, disabled ones included (never a secret)" })
  @ApiOkResponse({ type: [AccountSettingsDto] })
  list(): Promise<AccountSettings[]> {
    return this.accounts.list();
  }

  @Post('accounts')
  @ApiOperation({
    summary: 'Add an account',
    description:
      'Its AppSecret is sealed (AES-256-GCM) under SECRETS_KEY; its first token is fetched by one replica, and ' +
      'every replica serves it within RUNTIME_SYNC_MS.',
  })
  @ApiBody({ type: NewAccountDto })
  @ApiCreatedResponse({ type: AccountSettingsDto })
  @ApiBadRequestResponse({ description: 'A field is missing or malformed.', type: ApiErrorDto })
  @ApiConflictResponse({
    description: 'The account exists, comes from WECHAT_ACCOUNTS, or the server has no SECRETS_KEY.',
    type: ApiErrorDto,
  })
  create(
    @Body(NewAccountPipe) account: NewAccount,
    @CurrentAdmin() actor: AdminActor,
  ): Promise<AccountSettings> {
    return this.accounts.create(account, actor);
  }

  @Patch('accounts/:appId')
  @ApiOperation({
    summary: 'Change an account',
    description:
      'A new secret is used from the next fetch on (the token held stays served); `enabled: false` stops ' +
      'refreshing and serving it; a new mode or ticket list takes effect at once.',
  })
  @ApiParam(APP_ID_PARAM)
  @ApiBody({ type: AccountChangeDto })
  @ApiOkResponse({ type: AccountSettingsDto })
  @ApiBadRequestResponse({ description: 'Malformed appId or body.', type: ApiErrorDto })
  @ApiNotFoundResponse({ description: 'No such account.', type: ApiErrorDto })
  @ApiConflictResponse({ description: 'The account comes from WECHAT_ACCOUNTS.', type: ApiErrorDto })
  update(
    @Param('appId', AppIdPipe) appId: string,
    @Body(AccountChangePipe) change: AccountChange,
    @CurrentAdmin() actor: AdminActor,
  ): Promise<AccountSettings> {
    return this.accounts.update(appId, change, actor);
  }

  @Delete('accounts/:appId')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Disable an account',
    description: 'No longer refreshed or served (40013 on /cgi-bin/*); its row and history are kept.',
  })
  @ApiParam(APP_ID_PARAM)
  @ApiNoContentResponse({ description: 'Disabled.' })
  @ApiNotFoundResponse({ description: 'No such account.', type: ApiErrorDto })
  @ApiConflictResponse({ description: 'The account comes from WECHAT_ACCOUNTS.', type: ApiErrorDto })
  async disable(@Param('appId', AppIdPipe) appId: string, @CurrentAdmin() actor: AdminActor): Promise<void> {
    await this.accounts.update(appId, { enabled: false }, actor);
  }

  /** Audited as `quota.resume` whatever the outcome, as a forced refresh is. */
  @Post('accounts/:appId/quota/resume')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Resume fetching after clearing the quota at WeChat',
    description:
      "After a 45009 (WeChat's daily quota) or WECHAT_DAILY_QUOTA calls, nothing is fetched until midnight " +
      "Asia/Shanghai. Once you have cleared the account's quota at WeChat (/cgi-bin/clear_quota), this records a " +
      'quota reset for every replica (kept across restarts: the quota day of the token and the tickets counts from ' +
      'it) and fetches what is due at once, through the cluster lock. `resumed: false` when the quota held nothing ' +
      'back (nothing done). If WeChat answers 45009 again, the account is blocked again (`blockedReason: "quota"`, ' +
      '`lastError`), and another resume within FORCE_REFRESH_MIN_INTERVAL_SECONDS (never less than 30 s) is refused ' +
      '(429). Every attempt ' +
      'is recorded in the audit (`quota.resume`).',
  })
  @ApiParam(APP_ID_PARAM)
  @ApiOkResponse({
    description: 'The status after the resume, and whether it resumed.',
    type: QuotaResumeResultDto,
  })
  @ApiBadRequestResponse({ description: 'Malformed appId.', type: ApiErrorDto })
  @ApiNotFoundResponse({ description: 'Not a configured account.', type: ApiErrorDto })
  @ApiResponse({
    status: 429,
    description:
      'The quota blocks again less than FORCE_REFRESH_MIN_INTERVAL_SECONDS (at least 30 s) after the last resume (clear it at WeChat first); see Retry-After.',
    type: RefreshRefusedDto,
  })
  @ApiResponse({
    status: 503,
    description: 'Database unavailable, or another replica holds the lock; see Retry-After.',
    type: ApiErrorDto,
  })
  resumeQuota(
    @Param('appId', AppIdPipe) appId: string,
    @CurrentAdmin() actor: AdminActor,
  ): Promise<QuotaResumeResult> {
    return this.audit.recordAttempt(
      { actor, action: 'quota.resume', target: appId },
      () => this.tokens.resumeQuota(appId, { by: actor.keyName }),
      quotaResumeDone,
      refreshFailed,
    );
  }
}
