import { describe, expect, it } from '@jest/globals';
import { attemptClass } from './timeline.service.js';

describe('attemptClass', () => {
  it.each([
    [{ outcome: 'ok', errcode: null, kind: 'access_token' }, false, 'ok'],
    [{ outcome: 'unchanged', errcode: null, kind: 'access_token' }, false, 'unchanged'],
    [{ outcome: null, errcode: null, kind: 'access_token' }, true, 'pending'],
    [{ outcome: null, errcode: null, kind: 'access_token' }, false, 'unknown'],
    [{ outcome: 'timeout', errcode: null, kind: 'access_token' }, false, 'unknown'],
    [{ outcome: 'network', errcode: null, kind: 'jsapi' }, false, 'unknown'],
    [{ outcome: 'http', errcode: null, kind: 'access_token' }, false, 'unknown'],
    [{ outcome: 'body', errcode: null, kind: 'access_token' }, false, 'unknown'],
    [{ outcome: 'not_sent', errcode: null, kind: 'access_token' }, false, 'transient'],
    [{ outcome: 'errcode', errcode: -1, kind: 'access_token' }, false, 'transient'],
    [{ outcome: 'errcode', errcode: 40164, kind: 'access_token' }, false, 'config'],
    [{ outcome: 'errcode', errcode: 89503, kind: 'access_token' }, false, 'config'],
    [{ outcome: 'errcode', errcode: 45009, kind: 'access_token' }, false, 'quota'],
    [{ outcome: 'errcode', errcode: 45011, kind: 'access_token' }, false, 'force_limit'],
    [{ outcome: 'errcode', errcode: 89507, kind: 'access_token' }, false, 'refused'],
    [{ outcome: 'errcode', errcode: 89506, kind: 'access_token' }, false, 'refused'],
    [{ outcome: 'errcode', errcode: 40001, kind: 'jsapi' }, false, 'stale_token'],
    [{ outcome: 'errcode', errcode: 40001, kind: 'access_token' }, false, 'config'],
  ] as const)('%j (pending: %s) is %s', (row, pending, expected) => {
    expect(attemptClass(row, pending)).toBe(expected);
  });
});
