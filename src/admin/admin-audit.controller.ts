import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { AuditLog, type AuditPage } from '../audit/audit-log.js';
import { HistoryCursorPipe, HistoryLimitPipe } from '../http/input-validation.js';
import { ADMIN_BEARER_SCHEME } from '../http/openapi.js';
import { AdminAuthGuard } from './admin-auth.guard.js';
import { AuditPageDto } from './admin-audit.dto.js';
import { ApiErrorDto, ApiHistoryQuery } from './admin.dto.js';

/** Who did what through the admin API: the `admin_audit` table, read back. */
@ApiTags('admin')
@ApiBearerAuth(ADMIN_BEARER_SCHEME)
@ApiUnauthorizedResponse({
  description: 'No, or a wrong, `Authorization: Bearer <admin key>` (ADMIN_TOKEN / ADMIN_TOKENS).',
  type: ApiErrorDto,
})
@UseGuards(AdminAuthGuard)
@Controller('admin/audit')
export class AdminAuditController {
  constructor(private readonly audit: AuditLog) {}

  @Get()
  @ApiOperation({
    summary: 'Admin writes, newest first, keyset-paged',
    description:
      'Every admin write (accounts, clients, forced refreshes of tokens and tickets, secret rotation), ' +
      'refused and failed attempts included, with the name of the admin key used, the client IP and what ' +
      'changed. Reads are not recorded.',
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
