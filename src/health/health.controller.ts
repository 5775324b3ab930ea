import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { WechatTokenHealthIndicator } from './wechat-token.health.js';

/** How long the database may take to answer `SELECT 1`. */
const DATABASE_TIMEOUT_MS = 1500;

/** `GET /health`: 200 when the database answers and every account holds a usable token, else 503. */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly accounts: WechatTokenHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({
    summary:
      'Database reachable and every account holding a usable token (200), else 503 naming what is down',
  })
  check(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('database').withTimeout(DATABASE_TIMEOUT_MS),
      () => this.accounts.isHealthy('wechat_accounts'),
    ]);
  }
}
