import { BadRequestException, Controller, Get, Query } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { WechatTokenService } from 'nestjs-wechat-token';

/** The JS-SDK APIs the pages of this app use; `wx.config` gets them with the signature. */
const JS_API_LIST = ['updateAppMessageShareData', 'updateTimelineShareData'];

/**
 * `GET /wechat/jsapi-config?url=…`: what a page passes to `wx.config`. The
 * jsapi_ticket stays here (kept by the token module for the whole cluster):
 * the page gets the signature of its own URL, never the ticket.
 */
@Controller('wechat/jsapi-config')
export class JsapiConfigController {
  private readonly appId: string;

  constructor(
    private readonly tokens: WechatTokenService,
    config: ConfigService,
  ) {
    this.appId = config.getOrThrow<string>('WECHAT_APP_ID');
  }

  /** `url`: the page's address, `location.href.split('#')[0]`, sent URL-encoded. */
  @Get()
  async config(@Query('url') url?: string) {
    if (!url) throw new BadRequestException('url is required: the page’s location.href.split("#")[0]');
    try {
      // { appId, timestamp, nonceStr, signature }, signed with the current jsapi_ticket.
      const signature = await this.tokens.jsapiSignature(this.appId, url);
      return { ...signature, jsApiList: JS_API_LIST };
    } catch (error) {
      // A URL that no page can have (relative, not http(s)): the message says what to send.
      if (error instanceof TypeError) throw new BadRequestException(error.message);
      throw error;
    }
  }
}
