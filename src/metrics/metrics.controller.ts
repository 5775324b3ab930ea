import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { ApiForbiddenResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import { ApiErrorDto } from '../admin/admin.dto.js';
import { MetricsAccessGuard } from './metrics-access.guard.js';
import { MetricsService } from './metrics.service.js';

/** `GET /metrics`: Prometheus' scrape target (README: Metrics). */
@ApiTags('metrics')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @UseGuards(MetricsAccessGuard)
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Prometheus metrics (text format 0.0.4)',
    description:
      'Open to the addresses of METRICS_ALLOWLIST (default loopback; X-Forwarded-For believed from TRUST_PROXY ' +
      'only), and to anyone with an admin key (`Authorization: Bearer <admin key>`: optional, so not declared ' +
      'as a security requirement). Labels never hold a token, a key or a client address. The README lists ' +
      'every metric.',
  })
  @ApiOkResponse({
    description: 'Every metric, in the Prometheus text format.',
    content: { [Registry.PROMETHEUS_CONTENT_TYPE]: { schema: { type: 'string' } } },
  })
  @ApiForbiddenResponse({
    description: 'Outside METRICS_ALLOWLIST without an admin key.',
    type: ApiErrorDto,
  })
  scrape(): Promise<string> {
    return this.metrics.render();
  }
}
