/**
 * What only the sandbox says. WeChat's own errcodes and errmsgs are in
 * `core/wechat-protocol.ts`, shared with the module and the server.
 */

/** Body of the HTML page sent by the `nonJsonBody` fault, like a proxy's error page. */
export const NON_JSON_FAULT_BODY =
  '<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>';

/** A few of the CIDRs WeChat lists for api.weixin.qq.com, enough to look real. */
export const API_DOMAIN_IPS: readonly string[] = [
  '101.226.103.0/25',
  '101.226.233.128/25',
  '58.247.206.128/25',
  '182.254.88.0/24',
  '109.244.129.0/24',
];
