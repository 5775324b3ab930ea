import { Controller, Get, NotFoundException, Post } from '@nestjs/common';
import { ApiIpsService } from './api-ips.service.js';

/** The host app's own routes. */
@Controller('wechat/api-ips')
export class ApiIpsController {
  constructor(private readonly apiIps: ApiIpsService) {}

  @Get()
  async latest() {
    const snapshot = await this.apiIps.latest();
    if (!snapshot) throw new NotFoundException('No IP list fetched yet: POST /wechat/api-ips/sync');
    return snapshot;
  }

  @Post('sync')
  sync() {
    return this.apiIps.sync();
  }
}
