import { HttpService } from '@nestjs/axios';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import { firstValueFrom } from 'rxjs';
import { Repository } from 'typeorm';
// A real app imports these from 'nestjs-wechat-token'.
import { WechatTokenService } from 'nestjs-wechat-token';
import { ApiIpSnapshotEntity } from './api-ip-snapshot.entity.js';

/** `GET /cgi-bin/get_api_domain_ip`: the IP list, or WeChat's error shape. */
interface ApiDomainIpAnswer {
  ip_list?: string[];
  errcode?: number;
  errmsg?: string;
}

/**
 * Keeps the list of WeChat's API server IPs (say, for an egress firewall).
 * The token comes from `WechatTokenService`: this app never asks WeChat for
 * one, and a 40001/42001 answer is retried once with a fresh token by
 * `withAccessToken`.
 */
@Injectable()
export class ApiIpsService {
  private readonly appId: string;
  private readonly apiBaseUrl: string;

  constructor(
    private readonly tokens: WechatTokenService,
    private readonly http: HttpService,
    @InjectRepository(ApiIpSnapshotEntity) private readonly snapshots: Repository<ApiIpSnapshotEntity>,
    config: ConfigService,
  ) {
    this.appId = config.getOrThrow<string>('WECHAT_APP_ID');
    this.apiBaseUrl = config.get<string>('WECHAT_API_BASE_URL', 'https://api.weixin.qq.com');
  }

  /** Asks WeChat for the current list and stores it. */
  async sync(): Promise<ApiIpSnapshotEntity> {
    const { data } = await this.tokens.withAccessToken(this.appId, (accessToken) =>
      firstValueFrom(
        this.http.get<ApiDomainIpAnswer>(`${this.apiBaseUrl}/cgi-bin/get_api_domain_ip`, {
          params: { access_token: accessToken },
        }),
      ),
    );
    if (!data.ip_list) throw new Error(`get_api_domain_ip failed: ${data.errcode} ${data.errmsg}`);
    return this.snapshots.save(this.snapshots.create({ appId: this.appId, ipList: data.ip_list }));
  }

  /** The newest stored list, if any. */
  latest(): Promise<ApiIpSnapshotEntity | null> {
    return this.snapshots.findOne({ where: { appId: this.appId }, order: { id: 'DESC' } });
  }
}
