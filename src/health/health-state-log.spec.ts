import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Logger, type LoggerService } from '@nestjs/common';
import type { HealthCheckResult } from '@nestjs/terminus';
import {
  HEALTH_LOG_MIN_GAP_MS,
  HEALTH_LOG_REPEAT_MS,
  HealthStateLog,
  nextHealthLogLine,
} from './health-state-log.js';

const A = 'wx000000000000000a';
const B = 'wx000000000000000b';
const SECOND = 1000;

/** Keeps `LEVEL message` of every line. */
class Lines implements LoggerService {
  readonly lines: string[] = [];
  log = (message: string) => this.lines.push(`LOG ${message}`);
  error = (message: string) => this.lines.push(`ERROR ${message}`);
  warn = (message: string) => this.lines.push(`WARN ${message}`);
}

describe('nextHealthLogLine', () => {
  const failing = { failing: true, signature: 'database|' };
  const ok = { failing: false, signature: '|' };

  it('logs a failure when it starts, again only after a minute while it lasts, and the recovery once', () => {
    expect(nextHealthLogLine(undefined, ok, 0)).toBeUndefined();
    expect(nextHealthLogLine(undefined, failing, 0)).toBe('failing');
    const logged = { ...failing, at: 0 };
    expect(nextHealthLogLine(logged, failing, HEALTH_LOG_REPEAT_MS - 1)).toBeUndefined();
    expect(nextHealthLogLine(logged, failing, HEALTH_LOG_REPEAT_MS)).toBe('still_failing');
    expect(nextHealthLogLine(logged, ok, 30 * SECOND)).toBe('recovered');
    expect(nextHealthLogLine({ ...ok, at: 30 * SECOND }, ok, 90 * SECOND)).toBeUndefined();
  });

  it('logs a change of what fails, and a failure after a recovery, no sooner than the minimum gap after the line before', () => {
    const logged = { ...failing, at: 0 };
    const worse = { failing: true, signature: 'database,wechat_accounts|wx…:40164' };
    expect(nextHealthLogLine(logged, worse, HEALTH_LOG_MIN_GAP_MS - 1)).toBeUndefined();
    expect(nextHealthLogLine(logged, worse, HEALTH_LOG_MIN_GAP_MS)).toBe('failing');
    // A recovery is logged at once; a new failure waits for the gap.
    expect(nextHealthLogLine(logged, ok, 1)).toBe('recovered');
    const recovered = { ...ok, at: 1 };
    expect(nextHealthLogLine(recovered, failing, HEALTH_LOG_MIN_GAP_MS)).toBeUndefined();
    expect(nextHealthLogLine(recovered, failing, HEALTH_LOG_MIN_GAP_MS + 1)).toBe('failing');
  });

  it('writes at most two lines per gap for a state that flaps at every check', () => {
    let last: Parameters<typeof nextHealthLogLine>[0];
    let lines = 0;
    for (let t = 0; t < 60 * SECOND; t += 100) {
      const observed = (t / 100) % 2 === 0 ? failing : ok;
      const line = nextHealthLogLine(last, observed, t);
      if (line) {
        lines++;
        last = { ...observed, at: t };
      }
    }
    expect(lines).toBeLessThanOrEqual(2 * Math.ceil((60 * SECOND) / HEALTH_LOG_MIN_GAP_MS));
    expect(lines).toBeGreaterThan(0);
  });
});

describe('HealthStateLog', () => {
  let logs: Lines;
  beforeEach(() => {
    logs = new Lines();
    Logger.overrideLogger(logs);
  });
  afterEach(() => {
    Logger.overrideLogger(true);
  });

  const accountsDown: HealthCheckResult = {
    status: 'error',
    details: {
      database: { status: 'up' },
      wechat_accounts: {
        status: 'down',
        accounts: {
          [B]: { usable: false },
          [A]: {
            usable: false,
            lastError: {
              errcode: 40164,
              hint: 'Whitelist 203.0.113.9 at WeChat.',
              at: '2026-01-01T00:00:00Z',
            },
          },
        },
      },
    },
  };
  const up: HealthCheckResult = {
    status: 'ok',
    details: {
      database: { status: 'up' },
      wechat_accounts: { status: 'up', accounts: { [A]: { usable: true } } },
    },
  };

  it('writes three lines for a failure checked every second for three minutes, then back up', () => {
    const log = new HealthStateLog();
    for (let t = 0; t < 180 * SECOND; t += SECOND) log.record(accountsDown, t);
    log.record(up, 180 * SECOND);
    log.record(up, 181 * SECOND);
    expect(logs.lines).toHaveLength(4);
    const [first, again, third, back] = logs.lines;
    // The operator's line names the component class and every account with its errcode and hint.
    expect(first).toMatch(/^ERROR Not ready: wechat_accounts down \(2 accounts without a usable token: /);
    expect(first).toContain(`${A}: errcode 40164, Whitelist 203.0.113.9 at WeChat.`);
    expect(first).toContain(`${B}: no token yet`);
    expect(again).toMatch(/^ERROR Still not ready after 60 s: wechat_accounts down/);
    expect(third).toMatch(/^ERROR Still not ready after 120 s/);
    expect(back).toMatch(/^LOG Ready again after 180 s/);
  });

  it('tells a replica still fetching its first tokens apart from a failure: not an error', () => {
    const log = new HealthStateLog();
    const starting: HealthCheckResult = {
      status: 'error',
      details: {
        database: { status: 'up' },
        wechat_accounts: { status: 'down', accounts: { [A]: { usable: false }, [B]: { usable: true } } },
      },
    };
    log.record(starting, 0);
    log.record(up, SECOND);
    log.record(starting, 5 * SECOND);
    log.record(accountsDown, 11 * SECOND);
    expect(logs.lines).toEqual([
      `LOG Not ready yet: wechat_accounts down (1 account without a usable token: ${A}: no token yet).`,
      'LOG Ready again after 1 s: the database and every account are up.',
      expect.stringMatching(/^ERROR Not ready: wechat_accounts down \(2 accounts/),
    ]);
  });

  it('names the database and why it is down', () => {
    const log = new HealthStateLog();
    log.record(
      {
        status: 'error',
        details: {
          database: { status: 'down', message: 'timeout of 1500ms exceeded' },
          wechat_accounts: { status: 'up', accounts: {} },
        },
      },
      0,
    );
    expect(logs.lines).toEqual([
      expect.stringMatching(/^ERROR Not ready: database down \(timeout of 1500ms exceeded\)\./),
    ]);
  });
});
