import { Controller, Get, Req, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminKeys } from '../admin/admin-keys.js';
import { presentedAdminKey } from '../admin/optional-admin.js';
import { healthHttpStatus, publicHealthAnswer, type PublicHealthAnswer } from './health-answer.js';
import { HealthStateLog } from './health-state-log.js';
import { WechatTokenHealthIndicator } from './wechat-token.health.js';

/** How long the database may take to answer `SELECT 1`. */
const DATABASE_TIMEOUT_MS = 1500;
/**
 * How long one database ping answers every readiness check: concurrent and
 * close checks share it, so a flood of unauthenticated `/health` calls costs
 * the pool one query a second, not one each.
 */
const DATABASE_PING_CACHE_MS = 1000;

/**
 * The probes. `GET /health/live`: 200 while the process answers HTTP.
 * `GET /health/ready` (and `GET /health`): 200 when the database answers
 * and every account holds a usable token, else 503; without an admin key
 * only the status and the component classes down, with one Terminus' full
 * result. A failure is logged on change of state (`HealthStateLog`), not per call.
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  /** No dependency: one per app, so a plain member. */
  private readonly stateLog = new HealthStateLog();

  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly accounts: WechatTokenHealthIndicator,
    private readonly keys: AdminKeys,
  ) {}

  /**
   * Liveness: the answer itself is the proof that the event loop turns (a
   * stuck loop answers nothing, and the probe's own timeout fails it). Nothing
   * else is checked on purpose: a replica whose database is down still serves
   * the tokens it holds, and restarting it would end that.
   */
  @Get('live')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({
    summary:
      'Liveness: 200 while the process answers; checks neither the database nor WeChat (use it for a liveness probe)',
  })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary:
      'Readiness: the database reachable and every account holding a usable token (200), else 503 naming the component class down; the detail (accounts, errors) only with an admin key',
  })
  ready(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<HealthCheckResult | PublicHealthAnswer> {
    return this.readiness(request, reply);
  }

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'The same as /health/ready' })
  check(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<HealthCheckResult | PublicHealthAnswer> {
    return this.readiness(request, reply);
  }

  private async readiness(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<HealthCheckResult | PublicHealthAnswer> {
    const result = await this.checkReadiness();
    this.stateLog.record(result);
    reply.status(healthHttpStatus(result));
    return presentedAdminKey(request, this.keys) ? result : publicHealthAnswer(result);
  }

  /** Terminus' result, whatever it is: `check()` throws it inside a 503 when something is down. */
  private async checkReadiness(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () =>
          this.database
            .pingCheck('database')
            .withTimeout(DATABASE_TIMEOUT_MS)
            .cacheFor(DATABASE_PING_CACHE_MS),
        () => this.accounts.isHealthy('wechat_accounts'),
      ]);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) return error.getResponse() as HealthCheckResult;
      throw error;
    }
  }
}
