import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AccountRegistry } from './accounts/account-registry.js';
import { registerAdminUi } from './admin-ui/admin-ui.js';
import { AdminAccountsController } from './admin/admin-accounts.controller.js';
import { AdminAuditController } from './admin/admin-audit.controller.js';
import { AdminClientsController } from './admin/admin-clients.controller.js';
import { AdminPassthroughController } from './admin/admin-passthrough.controller.js';
import { AdminTicketsController } from './admin/admin-tickets.controller.js';
import { AdminAuthGuard } from './admin/admin-auth.guard.js';
import { AdminKeys } from './admin/admin-keys.js';
import { AdminController } from './admin/admin.controller.js';
import { HistoryService } from './admin/history.service.js';
import { TimelineService } from './admin/timeline.service.js';
import { AuditLog } from './audit/audit-log.js';
import { AccountSecrets } from './cgi-bin/account-secrets.js';
import { CgiBinController } from './cgi-bin/cgi-bin.controller.js';
import { CompatTicketService } from './cgi-bin/compat-ticket.service.js';
import { CompatTokenService } from './cgi-bin/compat-token.service.js';
import { GetTicketController } from './cgi-bin/getticket.controller.js';
import { TokenAnswerCache } from './cgi-bin/token-answer.cache.js';
import { ClientAdminService } from './clients/client-admin.service.js';
import { ClientKeyring } from './clients/client-keyring.js';
import { ClientRepository } from './clients/client-repository.js';
import { HandoutRecorder } from './clients/handout-recorder.js';
import type { ServerConfig } from './config/server-config.js';
import { HealthController } from './health/health.controller.js';
import { WechatTokenHealthIndicator } from './health/wechat-token.health.js';
import { ApiExceptionFilter } from './http/api-exception.filter.js';
import { registerBodyParsers } from './http/body-parsers.js';
import { setupOpenApi } from './http/openapi.js';
import { registerSecurityHeaders } from './http/security-headers.js';
import { FetchLogProbe } from './metrics/fetch-log-probe.js';
import { MetricsAccessGuard } from './metrics/metrics-access.guard.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsService } from './metrics/metrics.service.js';
import { ServedCounts } from './metrics/served-counts.js';
import { ClientAllowlist } from './network/client-allowlist.js';
import { PassthroughCounts } from './passthrough/passthrough-counts.js';
import { PassthroughGate } from './passthrough/passthrough-gate.js';
import { PassthroughProxy } from './passthrough/passthrough-proxy.js';
import { PassthroughUsage } from './passthrough/passthrough-usage.js';
import { PassthroughUsageReport } from './passthrough/passthrough-usage-report.js';
import { WechatPaths } from './passthrough/wechat-paths.js';
import { RuntimeSync } from './runtime-sync/runtime-sync.service.js';

/**
 * The server's HTTP API: admin REST (`/admin/*`), WeChat-compatible token
 * and ticket endpoints (`/cgi-bin/*`), the pass-through of every other
 * WeChat API call, `/health` and `/metrics`. Needs `WechatTokenService` and
 * `WECHAT_TOKEN_OPTIONS` (a global `WechatTokenModule`), `SERVER_CONFIG`
 * (global) and a TypeORM DataSource (for the health check).
 */
@Module({
  // Terminus would log every failed check (anyone may call /health): HealthStateLog logs changes of state instead.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [
    AdminController,
    AdminAccountsController,
    AdminTicketsController,
    AdminAuditController,
    AdminClientsController,
    AdminPassthroughController,
    CgiBinController,
    GetTicketController,
    HealthController,
    MetricsController,
  ],
  providers: [
    AdminAuthGuard,
    AdminKeys,
    AuditLog,
    HistoryService,
    TimelineService,
    AccountSecrets,
    AccountRegistry,
    TokenAnswerCache,
    CompatTokenService,
    CompatTicketService,
    ClientAllowlist,
    ClientRepository,
    ClientKeyring,
    ClientAdminService,
    HandoutRecorder,
    WechatTokenHealthIndicator,
    RuntimeSync,
    ServedCounts,
    FetchLogProbe,
    MetricsService,
    MetricsAccessGuard,
    PassthroughCounts,
    PassthroughGate,
    PassthroughProxy,
    PassthroughUsage,
    PassthroughUsageReport,
  ],
  exports: [WechatTokenHealthIndicator],
})
export class HttpApiModule {}

/**
 * App-level HTTP setup of the API, before `app.init()`: the JSON error
 * answers of every route (404s and body errors included; WeChat-shaped under
 * `/cgi-bin`), the security headers of every answer (`Cache-Control:
 * no-store`, nosniff, a CSP), the body parsers, the pass-through, the admin
 * page (`ADMIN_UI`), and the OpenAPI description at `/docs` (JSON at `/docs-json`).
 */
export function configureHttpApp(app: NestFastifyApplication, config: ServerConfig): void {
  const paths = new WechatPaths(config.passthrough.prefixes);
  app.useGlobalFilters(new ApiExceptionFilter(paths));
  registerSecurityHeaders(app);
  registerBodyParsers(app, paths);
  if (config.passthrough.enabled) app.get(PassthroughProxy).register(app);
  if (config.adminUi) registerAdminUi(app);
  setupOpenApi(app, config.passthrough.enabled ? config.passthrough.prefixes : []);
}
