import { spawn, type ChildProcess } from 'node:child_process';

/** How a process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A finished command: its exit and its output. */
export interface CommandResult extends ProcessExit {
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  cwd: string;
  /** The whole environment of the child (nothing is inherited). */
  env: NodeJS.ProcessEnv;
}

/** Every process group started here and still running: `killAllSpawned()` ends them. */
const running = new Set<SpawnedProcess>();
process.once('exit', () => killAllSpawned());

/**
 * A child started by a test in its own process group (npm runs scripts and
 * servers as grandchildren), its output kept. `stop()` signals the child as
 * a process manager would; `killAllSpawned()` in `afterAll` SIGKILLs every
 * group still alive, whatever the test did.
 */
export class SpawnedProcess {
  stdout = '';
  stderr = '';
  exit?: ProcessExit;
  /** Whether the test had to SIGKILL it (a timeout, or a `stop()` that did not end it in time). */
  killed = false;
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcess;

  private constructor(command: string, args: readonly string[], options: SpawnOptions) {
    this.child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(this);
    this.child.stdout?.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this.child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => {
      const done = (exit: ProcessExit) => {
        this.exit ??= exit;
        running.delete(this);
        resolve(this.exit);
      };
      this.child.once('error', () => done({ code: -1, signal: null }));
      this.child.once('close', (code, signal) => done({ code, signal }));
    });
  }

  static start(command: string, args: readonly string[], options: SpawnOptions): SpawnedProcess {
    return new SpawnedProcess(command, args, options);
  }

  get output(): string {
    return `${this.stdout}${this.stderr}`;
  }

  /** The last lines of its output, for failure messages. */
  tail(lines = 40): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  /** Resolves to the first match of `pattern` in stdout; rejects if the process ends or `timeoutMs` passes first. */
  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout);
      if (match) return match;
      if (this.exit)
        throw new Error(`exited (${JSON.stringify(this.exit)}) before printing ${pattern}:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.tail()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * Sends `signal` and waits for the child and everything holding its output
   * to end; after `graceMs` the group is SIGKILLed (`killed` says so).
   * `group: true` signals the whole process group, as a terminal's Ctrl-C or
   * systemd's stop does; otherwise the child alone gets it, as `docker stop`
   * signals PID 1.
   */
  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
    { group = false, graceMs = 15_000 }: { group?: boolean; graceMs?: number } = {},
  ): Promise<ProcessExit> {
    if (this.exit) return this.exit;
    if (group && this.child.pid) process.kill(-this.child.pid, signal);
    else this.child.kill(signal);
    const timer = setTimeout(() => this.killGroup(), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** SIGKILL to the process group: the child and everything it started. */
  killGroup(): void {
    if (!this.exit) this.killed = true;
    try {
      if (this.child.pid) process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // the group is already gone
    }
  }
}

/** Runs a command to its end; after `timeoutMs` its process group is killed and the call rejects with its output. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { timeoutMs: number },
): Promise<CommandResult> {
  const child = SpawnedProcess.start(command, args, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.killGroup();
  }, options.timeoutMs);
  const exit = await child.exited;
  clearTimeout(timer);
  if (timedOut) {
    throw new Error(`${command} ${args.join(' ')} took over ${options.timeoutMs} ms:\n${child.tail()}`);
  }
  return { ...exit, stdout: child.stdout, stderr: child.stderr };
}

/** SIGKILLs every process group started here that is still running (call it in `afterAll`). */
export function killAllSpawned(): void {
  for (const child of running) child.killGroup();
}
