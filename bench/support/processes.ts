import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { onCleanup, withTimeout } from './cleanup.js';

/** A child process the benchmark started: its output is kept (the tail) for error messages. */
export class Child {
  private lines: string[] = [];
  private listeners = new Set<(line: string) => void>();
  readonly exited: Promise<number | null>;
  private stopNow: () => Promise<void>;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    let partial = '';
    const take = (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        if (this.lines.length > 200) this.lines.shift();
        for (const listener of this.listeners) listener(line);
      }
    };
    proc.stdout?.on('data', take);
    proc.stderr?.on('data', take);
    this.stopNow = onCleanup(name, () => this.terminate());
  }

  /** Starts `node <script>` (with `nodeArgs` before the script); stdout and stderr are captured. */
  static node(
    name: string,
    script: string,
    options: {
      args?: string[];
      env?: NodeJS.ProcessEnv;
      nodeArgs?: string[];
      cwd?: string;
      /** Start from an empty environment (PATH and HOME only) instead of this process's. */
      cleanEnv?: boolean;
    } = {},
  ): Child {
    const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...(options.args ?? [])], {
      env: {
        ...(options.cleanEnv ? { PATH: process.env.PATH, HOME: process.env.HOME } : process.env),
        ...options.env,
      },
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Child(name, proc);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** The last lines it printed. */
  tail(count = 20): string {
    return this.lines.slice(-count).join('\n');
  }

  /**
   * An error saying the process ended, its message naming the line that says
   * why (a `Failed to start:` / `Invalid configuration:` line, else the last
   * line), with the output's tail in `output` for results.json.
   */
  exitError(what: string): Error & { output: string } {
    const lines = this.lines.filter((line) => line.trim() !== '');
    const reason =
      [...lines].reverse().find((line) => /Failed to start:|Invalid configuration:|Error:/.test(line)) ??
      lines[lines.length - 1] ??
      'no output';
    const code = this.proc.exitCode ?? this.proc.signalCode;
    return Object.assign(new Error(`${this.name} exited (${code}) ${what}: ${reason.trim().slice(0, 200)}`), {
      output: this.tail(40),
    });
  }

  /** Resolves with the first line (already printed or to come) matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    let listener: (line: string) => void = () => undefined;
    const found = new Promise<string>((resolve, reject) => {
      listener = (line) => {
        if (pattern.test(line)) resolve(line);
      };
      this.listeners.add(listener);
      void this.exited.then(() => reject(this.exitError(`before printing ${pattern}`)));
    });
    return withTimeout(found, timeoutMs, `waiting for ${this.name} to print ${pattern}`).finally(() =>
      this.listeners.delete(listener),
    );
  }

  /** The whole stdout+stderr kept so far (last 200 lines). */
  output(): string {
    return this.lines.join('\n');
  }

  /** Stops it now (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void> {
    return this.stopNow();
  }

  private async terminate(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    // A process stopped with SIGSTOP (the soak does that) acts on SIGTERM only once continued.
    this.proc.kill('SIGCONT');
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Resident set size of a process in MB, from /proc/<pid>/status (VmRSS). */
export function rssMB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) / 1024;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/** CPU seconds a process has used in user space and in the kernel (system calls: socket reads and writes…). */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/** What an `RssSampler` saw between its start and `stop()`. */
export interface RssSamples {
  /** Highest VmRSS seen, MB. */
  maxMB: number;
  /** Median VmRSS, MB. */
  medianMB: number;
  samples: number;
  /** Longest time between two samples, ms: how well the interval held on a busy machine. */
  longestGapMs: number;
}

/**
 * Reads a process's VmRSS every `intervalMs` until stopped, to catch the
 * peak of a transfer (a single reading afterwards would miss memory that
 * was freed by then).
 */
export class RssSampler {
  private readonly values: number[] = [];
  private readonly timer: NodeJS.Timeout;
  private last = performance.now();
  private longestGapMs = 0;

  constructor(
    private readonly pid: number,
    intervalMs = 20,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Stops sampling; NaN figures when the process was gone before the first sample. */
  stop(): RssSamples {
    clearInterval(this.timer);
    this.sample();
    const sorted = [...this.values].sort((a, b) => a - b);
    return {
      maxMB: sorted.length ? sorted[sorted.length - 1] : NaN,
      medianMB: sorted.length ? sorted[sorted.length >> 1] : NaN,
      samples: sorted.length,
      longestGapMs: Math.round(this.longestGapMs),
    };
  }

  private sample(): void {
    const now = performance.now();
    this.longestGapMs = Math.max(this.longestGapMs, now - this.last);
    this.last = now;
    try {
      this.values.push(rssMB(this.pid));
    } catch {
      // The process is gone: its exit is reported by whoever waits for it, not from this timer.
      clearInterval(this.timer);
    }
  }
}
