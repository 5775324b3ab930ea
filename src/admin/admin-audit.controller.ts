import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { AuditLog, type AuditPage } from '../audit/audit-log.js';
import { HistoryCursorPipe, HistoryLimitPipe } from '../http/input-validation.js';
import { AuditPageDto } from './admin-audit.dto.js';
import { ApiErrorDto, ApiHistoryQuery } from './admin.dto.js';
import { AdminRoutes } from './admin-routes.decorator.js';

/** Who did what through the admin API: the `admin_audit` table, read back. */
@AdminRoutes()
@Controller('admin/audit')
export class AdminAuditController {
  constructor(private readonly audit: AuditLog) {}

  @Get()
  @ApiOperation({
    summary: 'Admin writes, newest first, keyset-paged',
    description:
      'Every admin write (accounts, clients, forced refreshes of tokens and tickets, secret rotation), ' +
      'with the name of the admin key used, the client IP and what changed. Forced refreshes are recorded ' +
      'refused or failed too; account and client writes refused (400/404/409) leave nothing. Reads are not recorded.',
  })
  @ApiHistoryQuery()
  @ApiOkResponse({ type: AuditPageDto })
  @ApiBadRequestResponse({ description: 'Malformed limit or before.', type: ApiErrorDto })
  @ApiResponse({ status: 503, description: 'Database unavailable.', type: ApiErrorDto })
  page(
    @Query('limit', HistoryLimitPipe) limit: number,
    @Query('before', HistoryCursorPipe) before: string | undefined,
  ): Promise<AuditPage> {
    return this.audit.page(limit, before);
  }
}
