import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiIpSnapshotEntity } from './api-ip-snapshot.entity.js';
import { ApiIpsController } from './api-ips.controller.js';
import { ApiIpsService } from './api-ips.service.js';

/** A business module: injects `WechatTokenService` (the token module is global in `AppModule`). */
@Module({
  imports: [HttpModule, TypeOrmModule.forFeature([ApiIpSnapshotEntity])],
  controllers: [ApiIpsController],
  providers: [ApiIpsService],
  exports: [ApiIpsService],
})
export class ApiIpsModule {}
