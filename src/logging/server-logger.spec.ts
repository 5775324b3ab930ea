import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { createServerLogger, fieldsOf, useColors } from './server-logger.js';

const APP_ID = 'wx0123456789abcdef';
const OTHER = 'wxfedcba9876543210';

describe('useColors', () => {
  it('colours a terminal only, never a file or a pipe', () => {
    expect(useColors({}, true)).toBe(true);
    expect(useColors({}, false)).toBe(false);
    expect(useColors({ TERM: 'dumb' }, true)).toBe(false);
  });

  it('obeys NO_COLOR (set and not empty) over everything, and FORCE_COLOR as Node reads it', () => {
    expect(useColors({ NO_COLOR: '1' }, true)).toBe(false);
    expect(useColors({ NO_COLOR: '' }, true)).toBe(true);
    expect(useColors({ NO_COLOR: '1', FORCE_COLOR: '1' }, true)).toBe(false);
    for (const force of ['', '1', '3', 'true']) expect(useColors({ FORCE_COLOR: force }, false)).toBe(true);
    for (const force of ['0', 'false']) expect(useColors({ FORCE_COLOR: force }, true)).toBe(false);
  });
});

describe('fieldsOf', () => {
  it('takes the appId and the errcode a message names once', () => {
    expect(fieldsOf(`WeChat errcode 40164: invalid ip 1.2.3.4. Whitelist it. (${APP_ID})`)).toEqual({
      appId: APP_ID,
      errcode: 40164,
    });
    expect(fieldsOf(`New access_token for ${APP_ID} (startup): 52_R…GFJ4`)).toEqual({ appId: APP_ID });
    expect(fieldsOf('{"errcode":-1,"errmsg":"system error"}')).toEqual({ errcode: -1 });
  });

  it('takes nothing it would have to guess: two accounts, two errcodes, no errcode word, not a string', () => {
    expect(fieldsOf(`${APP_ID} and ${OTHER} errcode 1 errcode 2`)).toEqual({});
    expect(fieldsOf(`${APP_ID}: WeChat rejects 52_R…GFJ4 (40001/40014/42001)`)).toEqual({ appId: APP_ID });
    expect(fieldsOf({ appId: APP_ID })).toEqual({});
  });
});

describe('ServerLogger', () => {
  let stdout: string[];
  let stderr: string[];
  beforeEach(() => {
    stdout = [];
    stderr = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('json: one object a line with time, level, pid, context, message, appId, errcode; a stack as a field; all on stdout', () => {
    const logger = createServerLogger({ logFormat: 'json', logLevel: 'log' }, {}, true);
    logger.log(`New access_token for ${APP_ID}`, 'WechatTokenRefresher');
    logger.warn(`WeChat errcode 40164: invalid ip 1.2.3.4 (${APP_ID})`, 'WechatTokenEngine');
    const error = new Error('boom');
    logger.error('GET /x failed', error.stack, 'HttpApi');
    logger.error(error);
    logger.debug('not at this level', 'Anything');

    expect(stderr).toEqual([]);
    const lines = stdout.join('').split('\n').filter(Boolean);
    expect(lines).toHaveLength(4);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const record of records) {
      expect(Object.keys(record).slice(0, 5)).toEqual(['time', 'level', 'pid', 'context', 'message']);
      expect(new Date(record.time as string).toISOString()).toBe(record.time);
      expect(record.pid).toBe(process.pid);
    }
    expect(records[0]).toMatchObject({ level: 'log', context: 'WechatTokenRefresher', appId: APP_ID });
    expect(records[0]).not.toHaveProperty('errcode');
    expect(records[1]).toMatchObject({ level: 'warn', appId: APP_ID, errcode: 40164 });
    expect(records[2]).toMatchObject({ level: 'error', context: 'HttpApi', stack: error.stack });
    expect(records[3]).toMatchObject({ level: 'error', context: '', message: 'boom' });
    expect((records[3].error as { stack: string }).stack).toBe(error.stack);
  });

  it('text: the usual lines, errors and their stack on stdout, no colour when told so', () => {
    const logger = createServerLogger({ logFormat: 'text', logLevel: 'log' }, {}, false);
    logger.log('Listening', 'Bootstrap');
    const error = new Error('boom');
    logger.error('failed', error.stack, 'HttpApi');

    expect(stderr).toEqual([]);
    const text = stdout.join('');
    expect(text).toMatch(/^\[Nest\] \d+ {2}- .+ {5}LOG \[Bootstrap\] Listening\n/);
    expect(text).toContain('  ERROR [HttpApi] failed\n');
    expect(text).toContain(`${error.stack}\n`);
    expect(text).not.toContain('\x1b[');
  });

  it('text: colours on a terminal', () => {
    // Nest's colour helpers read NO_COLOR themselves: the shell running the tests must not decide.
    const noColor = process.env.NO_COLOR;
    delete process.env.NO_COLOR;
    try {
      createServerLogger({ logFormat: 'text', logLevel: 'log' }, {}, true).log('Listening', 'Bootstrap');
    } finally {
      if (noColor !== undefined) process.env.NO_COLOR = noColor;
    }
    expect(stdout.join('')).toContain('\x1b[');
  });

  it('is what Nest’s static Logger writes through once it overrides it', () => {
    Logger.overrideLogger(createServerLogger({ logFormat: 'json', logLevel: 'warn' }, {}, false));
    try {
      new Logger('Bootstrap').log('below the level');
      new Logger('Bootstrap').warn('Admin keys not reloaded');
    } finally {
      Logger.overrideLogger(true);
    }
    const lines = stdout.join('').split('\n').filter(Boolean);
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
      expect.objectContaining({ level: 'warn', context: 'Bootstrap', message: 'Admin keys not reloaded' }),
    ]);
  });
});
