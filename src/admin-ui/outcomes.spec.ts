import { describe, expect, it } from '@jest/globals';
import { failureOf } from './public/api.js';
import { actionFailed, pollProblemText, refreshDone, retrySeconds, retryText } from './public/outcomes.js';

const failure = (
  status: number,
  message: string,
  body: Record<string, unknown> | null = null,
  retryAfter: number | null = null,
) => ({
  status,
  message,
  body,
  retryAfter,
});

describe('refreshDone', () => {
  it('is ok with the new masked value when a token was fetched', () => {
    expect(refreshDone({ refresh: 'fetched', token: '56_a…rk8T' })).toEqual({
      kind: 'ok',
      text: 'A new token was fetched. Now serving 56_a…rk8T.',
      retry: null,
    });
  });

  it('is info when nothing was fetched, saying why', () => {
    expect(refreshDone({ refresh: 'still_works', token: 'x' })).toEqual({
      kind: 'info',
      text: 'WeChat still accepts the token: nothing was fetched.',
      retry: null,
    });
    expect(refreshDone({ refresh: 'already_replaced', token: 'x' }).text).toContain('already been replaced');
    expect(refreshDone({ refresh: 'unchanged', token: 'x' }).text).toContain('same stable token');
    expect(refreshDone({ refresh: 'something_new', token: 'x' }).text).toBe('Done: something_new.');
  });
});

describe('a 429', () => {
  const tooSoon = failure(
    429,
    'A forced refresh happened less than the minimum interval ago.',
    { reason: 'min_interval' },
    30,
  );

  it('says plainly when to try again, naming Retry-After, and carries the countdown', () => {
    expect(actionFailed(tooSoon)).toEqual({
      kind: 'retry',
      text: 'Refused: A forced refresh happened less than the minimum interval ago. Try again in 30 s (Retry-After: 30).',
      retry: { message: tooSoon.message, seconds: 30 },
    });
  });

  it('counts down to "now" while the header value stays as received', () => {
    expect(retryText(tooSoon.message, 12, 30)).toBe(
      'Refused: A forced refresh happened less than the minimum interval ago. Try again in 12 s (Retry-After: 30).',
    );
    expect(retryText(tooSoon.message, 0, 30)).toBe(
      'Refused: A forced refresh happened less than the minimum interval ago. You can try again now (Retry-After: 30).',
    );
  });

  it('takes the wait from the body when the header is missing, and is a plain error without either', () => {
    expect(retrySeconds(failure(429, 'quota', { retryAfterSeconds: 41.2 }))).toBe(42);
    expect(actionFailed(failure(429, 'quota', { retryAfterSeconds: 5 })).kind).toBe('retry');
    expect(actionFailed(failure(429, 'Quota used up.'))).toEqual({
      kind: 'error',
      text: 'Refused: Quota used up.',
      retry: null,
    });
  });
});

describe('other failures', () => {
  it("a 502 shows WeChat's errcode, errmsg and the hint", () => {
    const refused = actionFailed(
      failure(502, 'WeChat refused', {
        errcode: 40164,
        errmsg: 'invalid ip 1.2.3.4, not in whitelist',
        hint: 'Add 1.2.3.4 to the IP whitelist.',
      }),
    );
    expect(refused).toEqual({
      kind: 'error',
      text: 'WeChat refused: errcode 40164 (invalid ip 1.2.3.4, not in whitelist). Add 1.2.3.4 to the IP whitelist.',
      retry: null,
    });
  });

  it('no answer says the server could not be reached', () => {
    expect(actionFailed(failure(0, 'whatever')).text).toBe('The server could not be reached.');
  });

  it("anything else shows the server's message as given, with a 503's Retry-After", () => {
    expect(
      actionFailed(failure(409, 'SECRETS_KEY is not set: accounts cannot be added through the API.')),
    ).toEqual({
      kind: 'error',
      text: 'SECRETS_KEY is not set: accounts cannot be added through the API.',
      retry: null,
    });
    expect(actionFailed(failure(503, 'Another replica is refreshing', null, 2)).text).toBe(
      'Another replica is refreshing. Try again in 2 s.',
    );
  });
});

describe('pollProblemText', () => {
  it('says the server is unreachable only when no answer came', () => {
    expect(pollProblemText(failure(0, 'The server could not be reached.'))).toBe(
      'Server unreachable, retrying.',
    );
  });

  it("gives an error answer's status and message", () => {
    expect(pollProblemText(failure(503, 'The database is unavailable.'))).toBe(
      'The server answered 503: The database is unavailable. Retrying.',
    );
  });

  it('does not blame the server or the network for a bug of the page', () => {
    const text = pollProblemText(
      failureOf(new TypeError("Cannot read properties of undefined (reading 'appId')")),
    );
    expect(text).toBe('This page failed to show the last answer (the error is above). Retrying.');
    expect(text).not.toMatch(/unreachable|server answered/i);
  });
});
