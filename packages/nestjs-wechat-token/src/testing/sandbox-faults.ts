import { asObject } from './sandbox-settings.js';
import type { SandboxFault, SandboxFaultEndpoint } from './wechat-sandbox.types.js';

/** Every `SandboxFaultEndpoint`, for checking faults that come as JSON. */
const FAULT_ENDPOINTS: readonly SandboxFaultEndpoint[] = ['token', 'stable_token', 'getticket', 'api'];

/** A queued fault and how many more calls it applies to. */
interface QueuedFault {
  readonly fault: SandboxFault;
  remaining: number;
}

/** Injected faults, applied first-in first-out to the calls they match. */
export class SandboxFaultQueue {
  private queue: QueuedFault[] = [];

  /** Queues a fault (validated, as it may come from JSON over the control API). */
  add(input: unknown): void {
    const fault = parseFault(input);
    this.queue.push({ fault, remaining: fault.times ?? 1 });
  }

  /**
   * Takes one use of the oldest fault matching this call, if any. A fault
   * without `endpoint` matches the token-issuing endpoints only.
   */
  take(endpoint: SandboxFaultEndpoint, appId: string): SandboxFault | undefined {
    // The WeChat API calls come by the thousand in a bench, with nothing queued.
    if (this.queue.length === 0) return undefined;
    const index = this.queue.findIndex(
      ({ fault }) =>
        (fault.endpoint === undefined
          ? endpoint === 'token' || endpoint === 'stable_token'
          : fault.endpoint === endpoint) &&
        (fault.appId === undefined || fault.appId === appId),
    );
    if (index < 0) return undefined;
    const queued = this.queue[index];
    queued.remaining -= 1;
    if (queued.remaining <= 0) this.queue.splice(index, 1);
    return queued.fault;
  }

  /** Number of faults still queued. */
  get size(): number {
    return this.queue.length;
  }

  /** Drops every queued fault. */
  clear(): void {
    this.queue = [];
  }
}

function parseFault(input: unknown): SandboxFault {
  const source = asObject(input, 'fault');
  const known = [
    'errcode',
    'errmsg',
    'httpStatus',
    'nonJsonBody',
    'delayMs',
    'dropConnection',
    'times',
    'appId',
    'endpoint',
  ];
  const unknown = Object.keys(source).find((name) => !known.includes(name));
  if (unknown !== undefined) throw new TypeError(`unknown fault field "${unknown}"`);
  const { errcode, errmsg, httpStatus, nonJsonBody, delayMs, dropConnection, times, appId, endpoint } =
    source;
  const check = (ok: boolean, message: string): void => {
    if (!ok) throw new TypeError(`fault.${message}`);
  };
  check(errcode === undefined || Number.isInteger(errcode), 'errcode must be an integer');
  check(errmsg === undefined || typeof errmsg === 'string', 'errmsg must be a string');
  check(
    httpStatus === undefined ||
      (Number.isInteger(httpStatus) && Number(httpStatus) >= 200 && Number(httpStatus) <= 599),
    'httpStatus must be an HTTP status (200-599)',
  );
  check(nonJsonBody === undefined || typeof nonJsonBody === 'boolean', 'nonJsonBody must be a boolean');
  check(
    delayMs === undefined || (Number.isInteger(delayMs) && Number(delayMs) >= 0),
    'delayMs must be an integer >= 0',
  );
  check(
    dropConnection === undefined || typeof dropConnection === 'boolean',
    'dropConnection must be a boolean',
  );
  check(
    times === undefined || (Number.isInteger(times) && Number(times) >= 1),
    'times must be an integer >= 1',
  );
  check(appId === undefined || typeof appId === 'string', 'appId must be a string');
  check(
    endpoint === undefined || (FAULT_ENDPOINTS as readonly unknown[]).includes(endpoint),
    `endpoint must be ${FAULT_ENDPOINTS.join(', ')}`,
  );
  check(
    errcode !== undefined ||
      httpStatus !== undefined ||
      nonJsonBody === true ||
      delayMs !== undefined ||
      dropConnection === true,
    'needs errcode, httpStatus, nonJsonBody, delayMs or dropConnection',
  );
  return { ...source } as SandboxFault;
}
