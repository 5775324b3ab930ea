/**
 * The path prefixes of WeChat's APIs (on `api.weixin.qq.com`), the one
 * place they are listed: a request under one of them is a WeChat API call,
 * answered in WeChat's shape (`{"errcode","errmsg"}`), and forwarded to
 * WeChat by the pass-through unless the center answers it itself.
 * `PASSTHROUGH_PREFIXES` adds more.
 */
export const DEFAULT_WECHAT_PATH_PREFIXES: readonly string[] = [
  '/cgi-bin',
  '/sns',
  '/wxa',
  '/wxaapi',
  '/wxopen',
  '/datacube',
  '/card',
  '/customservice',
  '/merchant',
  '/semantic',
  '/shorturl',
  '/media',
  '/tcb',
  '/shop',
  '/product',
  '/channels',
  '/express',
  '/intp',
  '/union',
  '/marketing',
  '/scan',
  '/cv',
  '/xpay',
  '/promoter',
  '/device',
  '/shakearound',
  '/bizwifi',
  '/payfeedback',
];

/**
 * Which paths are WeChat's: built once from the configured prefixes (each
 * `/name` without a trailing slash); a path is WeChat's when it is a prefix
 * or starts with a prefix and `/`.
 */
export class WechatPaths {
  private readonly prefixes: readonly string[];

  constructor(prefixes: readonly string[] = DEFAULT_WECHAT_PATH_PREFIXES) {
    this.prefixes = [...prefixes];
  }

  /** The prefixes, as configured. */
  get all(): readonly string[] {
    return this.prefixes;
  }

  /** Whether `path` (without its query) is one of WeChat's. */
  has(path: string): boolean {
    for (const prefix of this.prefixes) {
      if (path.startsWith(prefix) && (path.length === prefix.length || path[prefix.length] === '/')) {
        return true;
      }
    }
    return false;
  }
}

/** The path of a request target, without its query. */
export function urlPath(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Escapes and characters that a URL parser or WeChat's server may read as another path: `.`, `/`, `\`, NUL. */
const DISGUISED_PATH = /%(2e|2f|5c|00)|[\\;]|\/\/|\/\.\.?(\/|$)/i;

/**
 * Whether a request target (its path, as the client sent it) names exactly
 * the path that will be called at WeChat: origin-form (`/…`), without dot
 * segments, doubled or escaped slashes, backslashes or `;`, and unchanged by
 * URL normalisation. Anything else could reach another WeChat path than the
 * one the center checked (`/cgi-bin/./token` is WeChat's `/cgi-bin/token`).
 */
export function isCanonicalPath(path: string): boolean {
  if (!path.startsWith('/') || DISGUISED_PATH.test(path)) return false;
  try {
    return new URL(path, 'http://wechat.invalid').pathname === path;
  } catch {
    return false;
  }
}
