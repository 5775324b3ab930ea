import { createHash } from 'node:crypto';
import { JSSDK_INVALID_SIGNATURE } from '../core/wechat-protocol.js';
import { asObject } from './sandbox-settings.js';
import type { SandboxJsapiConfig, SandboxJsapiConfigResult } from './wechat-sandbox.types.js';

/**
 * Checks a `wx.config` input (it may come from JSON over the control API);
 * throws a TypeError if unusable. Other `wx.config` fields (`debug`,
 * `jsApiList`, …) are ignored, so a test can send the page's whole config.
 */
export function parseJsapiConfig(input: unknown): SandboxJsapiConfig {
  const source = asObject(input, 'jsapi config');
  const { appId, url, nonceStr, timestamp, signature } = source;
  const check = (ok: boolean, message: string): void => {
    if (!ok) throw new TypeError(`jsapi config.${message}`);
  };
  check(typeof appId === 'string' && appId !== '', 'appId must be a non-empty string');
  check(typeof url === 'string', 'url must be a string');
  check(typeof nonceStr === 'string', 'nonceStr must be a string');
  check(
    (typeof timestamp === 'number' && Number.isFinite(timestamp)) || typeof timestamp === 'string',
    'timestamp must be a number or a string',
  );
  check(typeof signature === 'string', 'signature must be a string');
  return { appId, url, nonceStr, timestamp, signature } as SandboxJsapiConfig;
}

/**
 * What `wx.config` would make of a page's signature, given the jsapi tickets
 * of its appid that work now. Written here from WeChat's rule, not taken from
 * the module, so that the sandbox judges the module's signatures independently:
 * the page signs `location.href.split('#')[0]`; the fields, named as WeChat
 * names them, are sorted by name and joined as `key=value&…`, unescaped, then
 * hashed with sha1 (lowercase hex).
 */
export function judgeJsapiConfig(
  config: SandboxJsapiConfig,
  liveTickets: readonly string[],
): SandboxJsapiConfigResult {
  const fields = {
    url: config.url.split('#')[0],
    timestamp: String(config.timestamp),
    noncestr: config.nonceStr,
  };
  const verifies = liveTickets.some(
    (ticket) => sha1Hex(signedString({ ...fields, jsapi_ticket: ticket })) === config.signature,
  );
  return verifies ? { ok: true } : { ok: false, errmsg: JSSDK_INVALID_SIGNATURE };
}

function signedString(fields: Record<string, string>): string {
  return Object.keys(fields)
    .sort()
    .map((name) => `${name}=${fields[name]}`)
    .join('&');
}

function sha1Hex(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}
