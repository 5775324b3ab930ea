import type { Clock } from 'nestjs-wechat-token';

/** A clock that moves only when told: shared by the module and the sandbox in a test. */
export class ManualClock implements Clock {
  constructor(private ms = Date.now()) {}

  now(): number {
    return this.ms;
  }

  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}
