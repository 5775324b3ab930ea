import { invalidIpErrmsg, WechatErrcode } from 'nestjs-wechat-token';
import type { ClientCheck } from '../clients/client-keyring.js';
import { COMPAT_ERRMSGS } from '../http/http-messages.js';

/**
 * WeChat's errcode and errmsg for a refused client key, the same on every
 * route that takes one (`/cgi-bin/token`, `stable_token`, a passed-through
 * `/sns/jscode2session`): 40164 from outside the client's networks, else
 * 40125 saying why once the key is proven (revoked, not for this appid), and
 * WeChat's plain 40125 for a key that is not one.
 */
export function clientKeyRefusal(
  check: Extract<ClientCheck, { ok: false }>,
  ip: string,
): { errcode: number; errmsg?: string } {
  switch (check.refusal) {
    case 'outside_cidrs':
      return { errcode: WechatErrcode.INVALID_IP, errmsg: invalidIpErrmsg(ip) };
    case 'revoked':
      return { errcode: WechatErrcode.INVALID_APPSECRET, errmsg: COMPAT_ERRMSGS.clientKeyRevoked() };
    case 'app_not_allowed':
      return { errcode: WechatErrcode.INVALID_APPSECRET, errmsg: COMPAT_ERRMSGS.clientKeyNotForApp() };
    case 'invalid_key':
      return { errcode: WechatErrcode.INVALID_APPSECRET };
  }
}
