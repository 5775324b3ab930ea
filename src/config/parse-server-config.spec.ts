import { describe, expect, it } from '@jest/globals';
import { ConfigError } from './config-error.js';
import { DEFAULT_WECHAT_PATH_PREFIXES } from '../passthrough/wechat-paths.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  adminKeys,
  adminKeysFrom,
  logLevelsFrom,
  parseDatabaseConfig,
  parseServerConfig,
  type Env,
} from './parse-server-config.js';

const SECRET = '0123456789abcdef0123456789abcdef';
const ADMIN = 'admin-token-0123456789';
const VALID: Env = { WECHAT_ACCOUNTS: `wx1111111111111111:${SECRET}`, ADMIN_TOKEN: ADMIN };

/** The ConfigError `parseServerConfig` throws for `VALID` with `change` applied. */
function failure(change: Env): ConfigError {
  try {
    parseServerConfig({ ...VALID, ...change });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`no ConfigError for ${JSON.stringify(change)}`);
}

describe('parseServerConfig', () => {
  it('applies the documented defaults', () => {
    const config = parseServerConfig(VALID);
    expect(config).toEqual({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      token: {
        accounts: [{ appId: 'wx1111111111111111', secret: SECRET, mode: 'token', tickets: [] }],
        apiBaseUrl: 'https://api.weixin.qq.com',
        refreshCron: '*/30 * * * * *',
        refreshAheadSeconds: 600,
        overlapSeconds: 300,
        forceRefreshMinIntervalSeconds: 30,
        dailyQuota: 2000,
        httpTimeoutMs: 5000,
        lateAnswerMs: 10000,
        resyncIntervalSeconds: 60,
      },
      adminToken: ADMIN,
      adminKeys: [{ name: 'ADMIN_TOKEN', key: ADMIN }],
      adminUi: true,
      allowAppSecretClients: true,
      runtimeSyncMs: 1000,
      clientAllowlist: ['127.0.0.1/32', '::1/128'],
      trustProxy: [],
      forceRefreshMinIntervalSeconds: 30,
      logLevel: 'log',
      logFormat: 'text',
      http: {
        requestTimeoutMs: 10_000,
        headersTimeoutMs: 5000,
        keepAliveTimeoutMs: 5000,
        maxConnections: 1000,
      },
      passthrough: {
        enabled: true,
        prefixes: [...DEFAULT_WECHAT_PATH_PREFIXES],
        maxBodyBytes: 20 * 1024 * 1024,
        timeoutMs: 30_000,
      },
      metricsAllowlist: ['127.0.0.1/32', '::1/128'],
      embeddedDatabase: { dataDir: '.data/postgres', port: 54329 },
    });
  });

  it('reads every variable', () => {
    const config = parseServerConfig({
      PORT: '8080',
      HOST: '::',
      DATABASE_URL: 'postgresql://wx:pw@db.internal:5432/tokens',
      WECHAT_ACCOUNTS: ` wxaaaaaaaaaaaaaaaa:${SECRET}:stable , wxbbbbbbbbbbbbbbbb:s2:token,`,
      WECHAT_API_BASE_URL: 'http://127.0.0.1:4000',
      TOKEN_REFRESH_CRON: '0 */5 * * * *',
      TOKEN_REFRESH_AHEAD_SECONDS: '900',
      WECHAT_TOKEN_OVERLAP_SECONDS: '120',
      FORCE_REFRESH_MIN_INTERVAL_SECONDS: '0',
      WECHAT_DAILY_QUOTA: '10000',
      WECHAT_HTTP_TIMEOUT_MS: '2500',
      WECHAT_LATE_ANSWER_MS: '0',
      TOKEN_RESYNC_SECONDS: '5',
      ADMIN_TOKEN: ADMIN,
      TOKEN_CLIENT_ALLOWLIST: '10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1',
      TRUST_PROXY: '172.16.0.0/12',
      ADMIN_UI: 'false',
      LOG_LEVEL: 'DEBUG',
      EMBEDDED_PG_PORT: '55000',
      EMBEDDED_PG_DATA_DIR: '/var/lib/wx/pg',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '::',
      databaseUrl: 'postgresql://wx:pw@db.internal:5432/tokens',
      token: {
        accounts: [
          { appId: 'wxaaaaaaaaaaaaaaaa', secret: SECRET, mode: 'stable', tickets: [] },
          { appId: 'wxbbbbbbbbbbbbbbbb', secret: 's2', mode: 'token', tickets: [] },
        ],
        apiBaseUrl: 'http://127.0.0.1:4000',
        refreshCron: '0 */5 * * * *',
        refreshAheadSeconds: 900,
        overlapSeconds: 120,
        forceRefreshMinIntervalSeconds: 0,
        dailyQuota: 10000,
        httpTimeoutMs: 2500,
        lateAnswerMs: 0,
        resyncIntervalSeconds: 5,
      },
      clientAllowlist: ['10.0.0.0/8', '192.168.1.7/32', 'fd00::/8', '::1/128'],
      trustProxy: ['172.16.0.0/12'],
      adminUi: false,
      forceRefreshMinIntervalSeconds: 0,
      logLevel: 'debug',
      embeddedDatabase: { dataDir: '/var/lib/wx/pg', port: 55000 },
    });
  });

  it('treats empty values as unset', () => {
    const config = parseServerConfig({ ...VALID, PORT: '', DATABASE_URL: '  ', TRUST_PROXY: '' });
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.trustProxy).toEqual([]);
  });

  describe('WECHAT_ACCOUNTS', () => {
    it.each([
      [undefined, 'missing'],
      [' , ', 'lists no account'],
      [
        'wx1111111111111111',
        'account "wx1111111111111111" has no secret (expected appId:secret[:stable][:jsapi][:wx_card])',
      ],
      ['wx1111111111111111:', 'account "wx1111111111111111" has no secret'],
      ['wx1111111111111111::stable', 'account "wx1111111111111111" has no secret'],
      [`:${SECRET}`, 'entry 1 has no appId'],
      [`wx1:${SECRET},wx1:other`, 'account "wx1" is listed twice'],
      [
        `wx1:${SECRET}:stabel`,
        'account "wx1" has an unknown flag "stabel": the flags after the secret are "stable", "jsapi", "wx_card", each at most once, in any order',
      ],
      [`wx1:${SECRET}:stable:x`, 'account "wx1" has an unknown flag "x"'],
      [`wx1:${SECRET}:jsapi:wxcard`, 'account "wx1" has an unknown flag "wxcard"'],
      [`wx1:${SECRET}:JSAPI`, 'account "wx1" has an unknown flag "JSAPI"'],
      [`wx1:${SECRET}:jsapi:stable:jsapi`, 'account "wx1" has the flag "jsapi" twice'],
      [`wx1:${SECRET}:stable:stable`, 'account "wx1" has the flag "stable" twice'],
      [`wx1:${SECRET}:token:stable`, 'account "wx1" has both "token" and "stable"'],
      [`wx1:${SECRET}::jsapi`, 'account "wx1" has an empty flag'],
      [`wx1:${SECRET}:jsapi:`, 'account "wx1" has an empty flag'],
      [`wx1 ${SECRET}`, 'entry 1 has an invalid appId'],
      [`${'w'.repeat(65)}:${SECRET}`, 'entry 1 has an invalid appId (1-64'],
      [`wx1:${SECRET} x`, 'account "wx1" has whitespace in its secret'],
    ])('%j → %s', (value, problem) => {
      const error = failure({ WECHAT_ACCOUNTS: value });
      expect(error.variable).toBe('WECHAT_ACCOUNTS');
      expect(error.message).toContain(`WECHAT_ACCOUNTS: ${problem}`);
      expect(error.message).not.toContain(SECRET);
    });

    it('never repeats a secret, even one pasted where a flag goes', () => {
      const error = failure({ WECHAT_ACCOUNTS: `wx1:${SECRET}:${SECRET}` });
      expect(error.message).toContain('account "wx1" has an unknown flag:');
      expect(error.message).not.toContain(SECRET);
      const twice = failure({ WECHAT_ACCOUNTS: `wx1:${SECRET}:jsapi:${SECRET}` });
      expect(twice.message).toContain('account "wx1" has an unknown flag:');
      expect(twice.message).not.toContain(SECRET);
    });

    it.each([
      ['jsapi', 'token', ['jsapi']],
      ['wx_card', 'token', ['wx_card']],
      ['stable:jsapi:wx_card', 'stable', ['jsapi', 'wx_card']],
      ['wx_card:jsapi:stable', 'stable', ['jsapi', 'wx_card']],
      ['jsapi:stable', 'stable', ['jsapi']],
      ['token:wx_card', 'token', ['wx_card']],
      [' jsapi : wx_card ', 'token', ['jsapi', 'wx_card']],
    ])('reads the flags %j in any order: mode %s, tickets %j', (flags, mode, tickets) => {
      const config = parseServerConfig({ ...VALID, WECHAT_ACCOUNTS: `wx1:${SECRET}:${flags},wx2:s2` });
      expect(config.token.accounts).toEqual([
        { appId: 'wx1', secret: SECRET, mode, tickets },
        { appId: 'wx2', secret: 's2', mode: 'token', tickets: [] },
      ]);
    });
  });

  it.each([
    [{ PORT: '70000' }, 'PORT', 'must be a whole number from 1 to 65535 (got "70000")'],
    [{ PORT: 'abc' }, 'PORT', 'must be a whole number from 1 to 65535 (got "abc")'],
    [{ PORT: '0' }, 'PORT', 'from 1 to 65535'],
    [{ PORT: '80.5' }, 'PORT', 'whole number'],
    [{ HOST: 'http://0.0.0.0' }, 'HOST', 'must be an IP address or a host name'],
    [
      { DATABASE_URL: 'mysql://u:p@h/d' },
      'DATABASE_URL',
      'must be a postgres:// or postgresql:// URL (got "mysql://…")',
    ],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL', 'is not a valid URL'],
    [
      { WECHAT_API_BASE_URL: 'api.weixin.qq.com' },
      'WECHAT_API_BASE_URL',
      'must be an http:// or https:// URL',
    ],
    [{ WECHAT_API_BASE_URL: 'ftp://x' }, 'WECHAT_API_BASE_URL', 'must be an http:// or https:// URL'],
    [
      { TOKEN_REFRESH_CRON: '*/5 * * * *' },
      'TOKEN_REFRESH_CRON',
      'has 5; five-field cron has no seconds field',
    ],
    [{ TOKEN_REFRESH_CRON: '* * * * * * *' }, 'TOKEN_REFRESH_CRON', 'needs six fields'],
    [{ TOKEN_REFRESH_CRON: '61 * * * * *' }, 'TOKEN_REFRESH_CRON', 'is not a valid cron expression'],
    [{ TOKEN_REFRESH_CRON: '@hourly' }, 'TOKEN_REFRESH_CRON', 'needs six fields'],
    [{ TOKEN_REFRESH_AHEAD_SECONDS: '0' }, 'TOKEN_REFRESH_AHEAD_SECONDS', 'from 1 to 86400'],
    [{ WECHAT_TOKEN_OVERLAP_SECONDS: '-5' }, 'WECHAT_TOKEN_OVERLAP_SECONDS', 'whole number'],
    [{ FORCE_REFRESH_MIN_INTERVAL_SECONDS: '30s' }, 'FORCE_REFRESH_MIN_INTERVAL_SECONDS', 'whole number'],
    [{ WECHAT_DAILY_QUOTA: '0' }, 'WECHAT_DAILY_QUOTA', '1 or more'],
    [{ WECHAT_HTTP_TIMEOUT_MS: '5' }, 'WECHAT_HTTP_TIMEOUT_MS', 'from 100 to 600000'],
    [{ WECHAT_LATE_ANSWER_MS: '-1' }, 'WECHAT_LATE_ANSWER_MS', 'from 0 to 600000'],
    [{ TOKEN_RESYNC_SECONDS: '0' }, 'TOKEN_RESYNC_SECONDS', 'from 1 to 86400'],
    [{ ADMIN_TOKEN: undefined }, 'ADMIN_TOKEN', 'missing'],
    [{ ADMIN_TOKEN: 'short-token' }, 'ADMIN_TOKEN', 'is too short (11 characters; at least 16'],
    [{ ADMIN_TOKEN: 'has whitespace in the middle' }, 'ADMIN_TOKEN', 'must not contain whitespace'],
    [
      { TOKEN_CLIENT_ALLOWLIST: '10.0.0.0/33' },
      'TOKEN_CLIENT_ALLOWLIST',
      '"10.0.0.0/33" has a bad prefix length',
    ],
    [{ TOKEN_CLIENT_ALLOWLIST: 'fd00::/129' }, 'TOKEN_CLIENT_ALLOWLIST', '0 to 128 for IPv6'],
    [
      { TOKEN_CLIENT_ALLOWLIST: '10.0.0.0/8,localhost' },
      'TOKEN_CLIENT_ALLOWLIST',
      '"localhost" is not an IP',
    ],
    [{ TRUST_PROXY: '10.0.0.0/' }, 'TRUST_PROXY', 'bad prefix length'],
    [{ TRUST_PROXY: '300.1.1.1' }, 'TRUST_PROXY', 'is not an IP address or CIDR'],
    [{ LOG_LEVEL: 'info' }, 'LOG_LEVEL', 'must be one of fatal, error, warn, log, debug, verbose'],
    [{ EMBEDDED_PG_PORT: '99999' }, 'EMBEDDED_PG_PORT', 'from 1 to 65535'],
  ])('%j → %s: %s', (change, variable, problem) => {
    const error = failure(change);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(`${variable}: `);
    expect(error.message).toContain(problem);
    expect(error.message).not.toContain('\n');
  });

  it('never repeats the admin token or the database password', () => {
    expect(failure({ ADMIN_TOKEN: 'tiny-secret' }).message).not.toContain('tiny-secret');
    expect(failure({ DATABASE_URL: 'mysql://u:hunter2hunter2@h/d' }).message).not.toContain('hunter2');
    expect(failure({ DATABASE_URL: 'postgres://u:hun ter2@[bad' }).message).not.toContain('hun ter2');
  });

  it('cuts long values short in messages', () => {
    const message = failure({ PORT: '9'.repeat(500) }).message;
    expect(message.length).toBeLessThan(120);
  });
});

describe('admin keys: ADMIN_TOKEN, ADMIN_TOKENS, ADMIN_TOKENS_FILE', () => {
  const OLD = 'old-key-0123456789abcdef';
  const NEW = 'new-key-fedcba9876543210';

  /** The ConfigError `adminKeysFrom` throws for `env`. */
  function keysFailure(env: Env): ConfigError {
    try {
      adminKeysFrom(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return error as ConfigError;
    }
    throw new Error(`no ConfigError for ${JSON.stringify(env)}`);
  }

  it('names ADMIN_TOKEN "ADMIN_TOKEN" and keeps it as adminToken', () => {
    expect(adminKeys(ADMIN, undefined)).toEqual({
      adminToken: ADMIN,
      adminKeys: [{ name: 'ADMIN_TOKEN', key: ADMIN }],
    });
  });

  it('reads the name:key pairs of ADMIN_TOKENS, with or without ADMIN_TOKEN, spaces and empty entries ignored', () => {
    expect(adminKeys(undefined, ` old : ${OLD} ,new:${NEW},`)).toEqual({
      adminKeys: [
        { name: 'old', key: OLD },
        { name: 'new', key: NEW },
      ],
    });
    expect(parseServerConfig({ ...VALID, ADMIN_TOKENS: `ops.2025-b_1:${NEW}` })).toMatchObject({
      adminToken: ADMIN,
      adminKeys: [
        { name: 'ADMIN_TOKEN', key: ADMIN },
        { name: 'ops.2025-b_1', key: NEW },
      ],
    });
    expect(
      parseServerConfig({ ...VALID, ADMIN_TOKEN: undefined, ADMIN_TOKENS: `a:${OLD}` }).adminToken,
    ).toBeUndefined();
  });

  it('also splits ADMIN_TOKENS at line breaks (a multi-line .env value)', () => {
    expect(adminKeys(undefined, `old:${OLD}\nnew:${NEW}`).adminKeys.map((key) => key.name)).toEqual([
      'old',
      'new',
    ]);
  });

  it.each([
    [{ ADMIN_TOKEN: undefined }, 'ADMIN_TOKEN', 'missing; set the bearer token of /admin/*'],
    [{ ADMIN_TOKEN: undefined, ADMIN_TOKENS: ' , ' }, 'ADMIN_TOKENS', 'lists no key'],
    [{ ADMIN_TOKENS: 'old-key-0123456789abcdef' }, 'ADMIN_TOKENS', 'entry 1 needs a name'],
    [{ ADMIN_TOKENS: `a:${'x'.repeat(16)},:${'y'.repeat(16)}` }, 'ADMIN_TOKENS', 'entry 2 needs a name'],
    [{ ADMIN_TOKENS: `bad name:${'x'.repeat(16)}` }, 'ADMIN_TOKENS', 'entry 1 needs a name'],
    [{ ADMIN_TOKENS: `${'n'.repeat(33)}:${'x'.repeat(16)}` }, 'ADMIN_TOKENS', 'entry 1 needs a name'],
    [{ ADMIN_TOKENS: 'ops:short-key' }, 'ADMIN_TOKENS', 'key "ops" is too short (9 characters; at least 16'],
    [{ ADMIN_TOKENS: 'ops:' }, 'ADMIN_TOKENS', 'key "ops" is too short (0 characters'],
    [
      { ADMIN_TOKENS: `ops:${'x'.repeat(8)} ${'y'.repeat(8)}` },
      'ADMIN_TOKENS',
      'must not contain whitespace',
    ],
    [
      { ADMIN_TOKENS: `a:${'x'.repeat(16)},a:${'y'.repeat(16)}` },
      'ADMIN_TOKENS',
      'the name "a" is used twice',
    ],
    [
      { ADMIN_TOKENS: `ADMIN_TOKEN:${'y'.repeat(16)}` },
      'ADMIN_TOKENS',
      'the name "ADMIN_TOKEN" is used twice',
    ],
    [{ ADMIN_TOKENS: `a:${ADMIN}` }, 'ADMIN_TOKENS', 'two names share one key'],
    [
      { ADMIN_TOKENS: `a:${'x'.repeat(16)}`, ADMIN_TOKENS_FILE: '/run/secrets/admin' },
      'ADMIN_TOKENS_FILE',
      'is set together with ADMIN_TOKENS',
    ],
    [
      { ADMIN_TOKENS_FILE: '/nonexistent/admin-tokens' },
      'ADMIN_TOKENS_FILE',
      'cannot read "/nonexistent/admin-tokens" (ENOENT)',
    ],
  ])('%j → %s: %s', (change, variable, problem) => {
    const error = failure(change);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(problem);
    expect(error.message).not.toContain('\n');
  });

  it('never repeats a key, even one pasted without its name', () => {
    const pasted = 'pasted-key-0123456789abcdef';
    for (const change of [
      { ADMIN_TOKENS: pasted },
      { ADMIN_TOKENS: `ops:${pasted} x` },
      { ADMIN_TOKENS: `ops:${pasted},${pasted}` },
      { ADMIN_TOKENS: `a:${pasted},b:${pasted}` },
      { ADMIN_TOKENS: `a:tiny-secret` },
    ]) {
      const message = failure(change).message;
      expect(message).not.toContain(pasted.slice(0, 10));
      expect(message).not.toContain('tiny-secret');
    }
  });

  describe('ADMIN_TOKENS_FILE', () => {
    function withFile(text: string, check: (path: string) => void): void {
      const dir = mkdtempSync(join(tmpdir(), 'admin-tokens-'));
      try {
        const path = join(dir, 'admin-tokens');
        writeFileSync(path, text);
        check(path);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }

    it('reads one name:key per line, blank lines and # comments skipped', () => {
      withFile(`# rotated 2025-06\nold:${OLD}\r\n\n  new:${NEW}\n`, (path) => {
        expect(adminKeysFrom({ ADMIN_TOKEN: ADMIN, ADMIN_TOKENS_FILE: path })).toEqual({
          adminToken: ADMIN,
          adminKeys: [
            { name: 'ADMIN_TOKEN', key: ADMIN },
            { name: 'old', key: OLD },
            { name: 'new', key: NEW },
          ],
        });
      });
    });

    it('names ADMIN_TOKENS_FILE in its errors, never the key', () => {
      withFile(`ops:${OLD}\n${NEW}\n`, (path) => {
        const error = keysFailure({ ADMIN_TOKENS_FILE: path });
        expect(error.variable).toBe('ADMIN_TOKENS_FILE');
        expect(error.message).toContain('entry 2 needs a name');
        expect(error.message).not.toContain(NEW.slice(0, 10));
      });
      withFile('# nothing yet\n', (path) => {
        expect(keysFailure({ ADMIN_TOKENS_FILE: path }).message).toBe(
          'ADMIN_TOKENS_FILE: lists no key (expected name:key,...)',
        );
      });
    });
  });
});

describe('HTTP limits, LOG_FORMAT and METRICS_ALLOWLIST', () => {
  const base = { WECHAT_ACCOUNTS: 'wx1234567890abcdef:secret', ADMIN_TOKEN: 'an-admin-token-of-some-length' };

  it('reads the limits, and keeps the headers timeout within the request timeout', () => {
    const config = parseServerConfig({
      ...base,
      HTTP_REQUEST_TIMEOUT_MS: '3000',
      HTTP_KEEPALIVE_TIMEOUT_MS: '61000',
      HTTP_MAX_CONNECTIONS: '20',
    });
    // The default headers timeout (5 s) would exceed the shorter request timeout: it follows it.
    expect(config.http).toEqual({
      requestTimeoutMs: 3000,
      headersTimeoutMs: 3000,
      keepAliveTimeoutMs: 61_000,
      maxConnections: 20,
    });
  });

  it.each([
    [{ HTTP_REQUEST_TIMEOUT_MS: '5' }, 'HTTP_REQUEST_TIMEOUT_MS'],
    [
      { HTTP_HEADERS_TIMEOUT_MS: '20000' },
      'HTTP_HEADERS_TIMEOUT_MS: must not be longer than HTTP_REQUEST_TIMEOUT_MS',
    ],
    [{ HTTP_MAX_CONNECTIONS: '0' }, 'HTTP_MAX_CONNECTIONS'],
    [{ LOG_FORMAT: 'yaml' }, 'LOG_FORMAT: must be text or json'],
    [{ METRICS_ALLOWLIST: 'everyone' }, 'METRICS_ALLOWLIST'],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => parseServerConfig({ ...base, ...env })).toThrow(message);
  });

  it('reads LOG_FORMAT in any case and METRICS_ALLOWLIST as CIDRs', () => {
    const config = parseServerConfig({
      ...base,
      LOG_FORMAT: 'JSON',
      METRICS_ALLOWLIST: '10.0.0.0/8, 192.0.2.7',
    });
    expect(config.logFormat).toBe('json');
    expect(config.metricsAllowlist).toEqual(['10.0.0.0/8', '192.0.2.7/32']);
  });
});

describe('PASSTHROUGH_*', () => {
  const base = { WECHAT_ACCOUNTS: 'wx1234567890abcdef:secret', ADMIN_TOKEN: 'an-admin-token-of-some-length' };

  it('reads the switch, the limits, and adds the prefixes to the built-in ones (a trailing slash dropped, each once)', () => {
    const config = parseServerConfig({
      ...base,
      PASSTHROUGH: 'false',
      PASSTHROUGH_PREFIXES: '/cgi-bin, /wxa/, /mmpaymkttransfers/, /pay/v2',
      PASSTHROUGH_MAX_BODY_BYTES: '1048576',
      PASSTHROUGH_TIMEOUT_MS: '5000',
    });
    expect(config.passthrough).toEqual({
      enabled: false,
      prefixes: [...DEFAULT_WECHAT_PATH_PREFIXES, '/mmpaymkttransfers', '/pay/v2'],
      maxBodyBytes: 1_048_576,
      timeoutMs: 5000,
    });
  });

  it.each([
    [{ PASSTHROUGH: 'maybe' }, 'PASSTHROUGH: must be true or false'],
    [{ PASSTHROUGH_PREFIXES: 'wxa' }, 'PASSTHROUGH_PREFIXES: "wxa" is not a path prefix'],
    [{ PASSTHROUGH_PREFIXES: '/wxa/*' }, 'PASSTHROUGH_PREFIXES: "/wxa/*" is not a path prefix'],
    [{ PASSTHROUGH_PREFIXES: '/' }, 'PASSTHROUGH_PREFIXES: "/" is not a path prefix'],
    [{ PASSTHROUGH_PREFIXES: '/admin' }, 'PASSTHROUGH_PREFIXES: "/admin" is one of the server\'s own paths'],
    [{ PASSTHROUGH_PREFIXES: '/health/x' }, "is one of the server's own paths"],
    [{ PASSTHROUGH_PREFIXES: '/wxa/../admin' }, 'is not a path prefix'],
    [{ PASSTHROUGH_PREFIXES: '/cgi-bin/token' }, 'is a path the server answers itself'],
    [{ PASSTHROUGH_MAX_BODY_BYTES: '10' }, 'PASSTHROUGH_MAX_BODY_BYTES: must be a whole number from 1024'],
    [{ PASSTHROUGH_TIMEOUT_MS: '5' }, 'PASSTHROUGH_TIMEOUT_MS'],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => parseServerConfig({ ...base, ...env })).toThrow(message);
  });
});

describe('parseDatabaseConfig', () => {
  it('needs neither accounts nor an admin token', () => {
    expect(parseDatabaseConfig({ DATABASE_URL: 'postgres://h/d' })).toEqual({
      databaseUrl: 'postgres://h/d',
      embeddedDatabase: { dataDir: '.data/postgres', port: 54329 },
    });
  });
});

describe('logLevelsFrom', () => {
  it('lists the level and every more severe one', () => {
    expect(logLevelsFrom('warn')).toEqual(['fatal', 'error', 'warn']);
    expect(logLevelsFrom()).toEqual(['fatal', 'error', 'warn', 'log']);
  });
});
