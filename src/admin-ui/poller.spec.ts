import { describe, expect, it } from '@jest/globals';
import { Poller } from './public/poller.js';

/** Manual timers and visibility: the poller's world, moved by the test. */
function world() {
  const timers = new Map<number, { run: () => void; ms: number }>();
  let nextId = 1;
  const state = { visible: true, runs: 0, pending: [] as (() => void)[] };
  const poller = new Poller({
    intervalMs: 5000,
    task: () => {
      state.runs++;
      return new Promise<void>((resolve) => state.pending.push(resolve));
    },
    isVisible: () => state.visible,
    setTimeout: (run, ms) => {
      const id = nextId++;
      timers.set(id, { run, ms });
      return id;
    },
    clearTimeout: (id) => {
      timers.delete(id as number);
    },
  });
  /** Lets the task's promise chain settle. */
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  /** Finishes the run under way. */
  const finish = async () => {
    state.pending.shift()?.();
    await settle();
  };
  /** Fires the scheduled timer. */
  const elapse = () => {
    const [[id, timer]] = [...timers];
    timers.delete(id);
    timer.run();
  };
  return { poller, state, timers, finish, elapse, settle };
}

describe('Poller', () => {
  it('runs at once when started, then every interval after each run ends', async () => {
    const { poller, state, timers, finish, elapse } = world();
    poller.start();
    expect(state.runs).toBe(1);
    expect(timers.size).toBe(0); // nothing scheduled while a run is under way
    await finish();
    expect([...timers.values()].map((timer) => timer.ms)).toEqual([5000]);
    elapse();
    expect(state.runs).toBe(2);
  });

  it('makes no request while the page is hidden, and runs at once when it is shown again', async () => {
    const { poller, state, timers, finish } = world();
    poller.start();
    await finish();
    state.visible = false;
    poller.visibilityChanged();
    expect(timers.size).toBe(0);
    expect(state.runs).toBe(1);
    state.visible = true;
    poller.visibilityChanged();
    expect(state.runs).toBe(2);
  });

  it('does not start while hidden, and a run that ends while hidden schedules nothing', async () => {
    const { poller, state, timers, finish } = world();
    state.visible = false;
    poller.start();
    expect(state.runs).toBe(0);
    state.visible = true;
    poller.visibilityChanged();
    expect(state.runs).toBe(1);
    state.visible = false;
    await finish();
    expect(timers.size).toBe(0);
  });

  it('stops for good when stopped (signed out), even with a run under way', async () => {
    const { poller, state, timers, finish } = world();
    poller.start();
    poller.stop();
    await finish();
    expect(timers.size).toBe(0);
    poller.runNow();
    poller.visibilityChanged();
    expect(state.runs).toBe(1);
  });

  it("runs again right after the current run when asked during it (an action's result is not lost)", async () => {
    const { poller, state, finish } = world();
    poller.start();
    poller.runNow();
    poller.runNow();
    expect(state.runs).toBe(1); // one at a time
    await finish();
    expect(state.runs).toBe(2); // and only one more
    await finish();
    expect(state.runs).toBe(2);
  });

  it('keeps polling after a failed run (its rejection is caught, not left unhandled)', async () => {
    const scheduled: number[] = [];
    const poller = new Poller({
      intervalMs: 1000,
      task: () => Promise.reject(new Error('down')),
      isVisible: () => true,
      setTimeout: (_run, ms) => scheduled.push(ms),
      clearTimeout: () => undefined,
    });
    poller.start();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(scheduled).toEqual([1000]);
  });
});
