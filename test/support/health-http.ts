import type { ServerFixture } from './server-fixture.js';

/** An answer of a health route: status, parsed JSON body, and the text as sent (for leak checks). */
export interface HealthAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/** `GET path`, with `adminKey` as bearer when given (then /health shows Terminus' whole result). */
export async function getHealth(
  fixture: ServerFixture,
  path: string,
  adminKey?: string,
): Promise<HealthAnswer> {
  const response = await fetch(`${fixture.baseUrl}${path}`, {
    headers: adminKey ? { authorization: `Bearer ${adminKey}` } : {},
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), text };
}

/** Polls `path` until it answers `status` (the pool reconnects in its own time). */
export async function healthBecomes(
  fixture: ServerFixture,
  path: string,
  status: number,
  timeoutMs = 20_000,
): Promise<HealthAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await getHealth(fixture, path);
    if (answer.status === status || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
