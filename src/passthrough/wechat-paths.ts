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

/**
 * A plain path: segments of letters, digits, `_`, `~` and `-`, with dots only
 * between them (`name.json`). WeChat's API paths are all of this kind.
 */
const PLAIN_PATH = /^(\/[A-Za-z0-9_~-]+(\.[A-Za-z0-9_~-]+)*)+$/;

/**
 * Whether a request target (its path, as the client sent it) is a plain path
 * (`PLAIN_PATH`), so that the path checked here is exactly the one WeChat is
 * called with: no percent-escape (`/cgi-bin/tok%65n`, `%2e`, `%3F`), dot
 * segment (`/cgi-bin/./token`), doubled slash, backslash, `;`, trailing dot or
 * character outside ASCII, any of which WeChat's server may read as another
 * path (its own token endpoint, say) than the one the center checked.
 */
export function isCanonicalPath(path: string): boolean {
  return PLAIN_PATH.test(path);
}
