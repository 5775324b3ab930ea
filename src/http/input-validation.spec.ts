import { describe, expect, it } from '@jest/globals';
import { BadRequestException } from '@nestjs/common';
import { AppIdPipe, HistoryCursorPipe, HistoryLimitPipe, RefreshRequestPipe } from './input-validation.js';

describe('AppIdPipe', () => {
  const pipe = new AppIdPipe();

  it.each(['wx1234567890abcdef', 'demo_app-1', 'A'])('accepts %s', (appId) => {
    expect(pipe.transform(appId)).toBe(appId);
  });

  it.each([
    "x'; DROP TABLE access_token;--",
    '',
    'a'.repeat(65),
    'wx/..',
    'wx 1',
    'wx\n1',
    undefined,
    ['wx1'],
  ])('refuses %p with 400', (appId) => {
    expect(() => pipe.transform(appId)).toThrow(BadRequestException);
  });

  it('does not echo the value', () => {
    // Both checks run only if it throws: a pipe that let the value through would fail here.
    expect.assertions(2);
    try {
      pipe.transform("x'; DROP TABLE access_token;--");
    } catch (error) {
      expect(error).toBeInstanceOf(BadRequestException);
      expect(JSON.stringify((error as BadRequestException).getResponse())).not.toContain('DROP');
    }
  });
});

describe('HistoryLimitPipe', () => {
  const pipe = new HistoryLimitPipe();

  it('defaults to 50 and accepts 1 to 500', () => {
    expect(pipe.transform(undefined)).toBe(50);
    expect(pipe.transform('1')).toBe(1);
    expect(pipe.transform('500')).toBe(500);
  });

  it.each(['-5', '0', '501', '1.5', 'ten', '', ' 5', '1e2', ['5', '6']])('refuses %p', (limit) => {
    expect(() => pipe.transform(limit)).toThrow(BadRequestException);
  });
});

describe('HistoryCursorPipe', () => {
  const pipe = new HistoryCursorPipe();

  it('accepts a positive bigint id', () => {
    expect(pipe.transform(undefined)).toBeUndefined();
    expect(pipe.transform('42')).toBe('42');
    expect(pipe.transform('9223372036854775807')).toBe('9223372036854775807');
  });

  it.each(['0', '-1', '01', '9223372036854775808', '1; DROP TABLE access_token', 'abc', ''])(
    'refuses %p',
    (before) => {
      expect(() => pipe.transform(before)).toThrow(BadRequestException);
    },
  );
});

describe('RefreshRequestPipe', () => {
  const pipe = new RefreshRequestPipe();

  it('reads no body, an empty object and a staleToken', () => {
    expect(pipe.transform(undefined)).toEqual({});
    expect(pipe.transform({})).toEqual({});
    expect(pipe.transform({ staleToken: 'abc' })).toEqual({ staleToken: 'abc' });
  });

  it.each(['text', [1], 5, { staleToken: 5 }, { staleToken: '' }, { staleToken: 'x'.repeat(2049) }])(
    'refuses %p',
    (body) => {
      expect(() => pipe.transform(body)).toThrow(BadRequestException);
    },
  );
});
