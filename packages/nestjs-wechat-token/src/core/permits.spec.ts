import { describe, expect, it } from '@jest/globals';
import { Permits } from './permits.js';

/** A piece of work that ends when told to. */
function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every settled promise's continuations run. */
const drain = () => new Promise((resolve) => setImmediate(resolve));

describe('Permits', () => {
  it('runs at most `size` pieces of work at once, the rest in the order they came, and answers every caller', async () => {
    const permits = new Permits(3);
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const answers = Array.from({ length: 20 }, (_, i) =>
      permits.run(async () => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 1 + ((i * 7) % 5)));
        running--;
        return `answer ${i}`;
      }),
    );
    expect(permits.running).toBe(3);
    expect(permits.queued).toBe(17);
    expect(await Promise.all(answers)).toEqual(Array.from({ length: 20 }, (_, i) => `answer ${i}`));
    expect(most).toBe(3);
    expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(permits.running).toBe(0);
    expect(permits.queued).toBe(0);
  });

  it('frees the permit of work that throws, and passes the error to its caller', async () => {
    const permits = new Permits(1);
    const failing = deferred();
    const failed = permits.run(() => failing.promise);
    const thrown = permits.run(() => {
      throw new Error('thrown before any await');
    });
    const next = permits.run(async () => 'next');
    failing.reject(new Error('database gone'));
    await expect(failed).rejects.toThrow('database gone');
    await expect(thrown).rejects.toThrow('thrown before any await');
    await expect(next).resolves.toBe('next');
    await drain();
    expect(permits.running).toBe(0);
  });
});
