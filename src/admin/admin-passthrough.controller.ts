import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse } from '@nestjs/swagger';
import {
  USAGE_DEFAULT_LIMIT,
  USAGE_MAX_LIMIT,
  UsageDayPipe,
  UsageLimitPipe,
} from '../http/input-validation.js';
import { USAGE_FLUSH_MS } from '../passthrough/passthrough-usage.js';
import { PassthroughUsageReport, type PassthroughUsageRow } from '../passthrough/passthrough-usage-report.js';
import { PassthroughUsageRowDto } from './admin-passthrough.dto.js';
import { ApiErrorDto } from './admin.dto.js';
import { AdminRoutes } from './admin-routes.decorator.js';

/** Who uses the pass-through of WeChat API calls: the `passthrough_usage` table, read back. */
@AdminRoutes()
@Controller('admin/passthrough')
export class AdminPassthroughController {
  constructor(private readonly report: PassthroughUsageReport) {}

  @Get()
  @ApiOperation({
    summary: "A day's pass-through calls per client, most calls first",
    description:
      'One row per client IP, client key and account: the calls passed on to WeChat, those whose token was ' +
      'replaced before (healed) or replayed after a stale-token answer, and those refused by the center. ' +
      `Every replica writes its counts every ${USAGE_FLUSH_MS / 1000} s and at shutdown: the last seconds may be missing.`,
  })
  @ApiQuery({
    name: 'day',
    required: false,
    description: 'The day in Asia/Shanghai (WeChat counts its quotas by it); default today.',
    schema: { type: 'string', format: 'date', example: '2025-06-01' },
  })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: USAGE_MAX_LIMIT, default: USAGE_DEFAULT_LIMIT },
  })
  @ApiOkResponse({ type: [PassthroughUsageRowDto] })
  @ApiBadRequestResponse({ description: 'Malformed day or limit.', type: ApiErrorDto })
  @ApiResponse({ status: 503, description: 'Database unavailable.', type: ApiErrorDto })
  list(
    @Query('day', UsageDayPipe) day: string | undefined,
    @Query('limit', UsageLimitPipe) limit: number,
  ): Promise<PassthroughUsageRow[]> {
    return this.report.day(day, limit);
  }
}
