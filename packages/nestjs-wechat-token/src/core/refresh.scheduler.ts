import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { MESSAGES } from './messages.js';
import { WechatTokenSetupError } from './wechat-token.errors.js';
import { WECHAT_TOKEN_OPTIONS } from './wechat-token.module-definition.js';
import type { ResolvedWechatTokenOptions } from './wechat-token.options.js';
import { WechatTokenService } from './wechat-token.service.js';

/** Name of the cron job in the app's `SchedulerRegistry`. */
export const REFRESH_JOB_NAME = 'wechat-token-refresh';

/**
 * Registers the refresh check as a cron job in the app's `SchedulerRegistry`
 * (the app imports `ScheduleModule.forRoot()`; the library does not, so the
 * cron comes from options). A tick never overlaps the previous one, and its
 * errors are logged, never thrown into the scheduler.
 */
@Injectable()
export class RefreshScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WechatTokenScheduler');
  private job?: CronJob;
  private running = false;

  constructor(
    private readonly tokens: WechatTokenService,
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: ResolvedWechatTokenOptions,
    @Optional() private readonly registry?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.registry) {
      // `SetupCheck` has stopped the start already; this narrows the type.
      throw new WechatTokenSetupError('schedule_module_missing', MESSAGES.scheduleModuleMissing());
    }
    this.job = CronJob.from({
      cronTime: this.options.refreshCron,
      onTick: () => this.tick(),
      start: true,
    });
    this.registry.addCronJob(REFRESH_JOB_NAME, this.job);
  }

  onApplicationShutdown(): void {
    if (this.registry?.doesExist('cron', REFRESH_JOB_NAME)) this.registry.deleteCronJob(REFRESH_JOB_NAME);
    else void this.job?.stop();
  }

  /** One refresh check. Public so tests and the benchmark can drive it. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.tokens.refreshDue();
    } catch (error) {
      this.logger.error(`Refresh check failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.running = false;
    }
  }
}
