import type { RequestHook, RequestScope } from '../core/index.js';
import { METHOD_NAMES } from '../core/index.js';

/** One request found still in flight past the threshold; reported once. */
export interface SlowRequest {
  /** HTTP method (`_OTHER` for unknown ones). */
  readonly method: string;
  /** Route template when the adapter knows it at start (Fastify does; Express learns it at the end). */
  readonly route: string | undefined;
  /** Raw request path and query, as received. */
  readonly url: string | undefined;
  /** Milliseconds in flight when it was found. */
  readonly elapsedMs: number;
  readonly thresholdMs: number;
  /** The request's scope, for the trace ID or anything else a concern attached. */
  readonly scope: RequestScope;
}

export interface SlowRequestDetectorOptions {
  /** Milliseconds in flight after which a request is reported. */
  thresholdMs: number;
  /** Receives each slow request once. */
  onSlowRequest: (request: SlowRequest) => void;
  /** Where a throwing `onSlowRequest` is reported; it never reaches a request. */
  report: (error: unknown, where: string) => void;
}

/**
 * Reports each request still in flight after `thresholdMs`, once. One timer serves every
 * request: it is armed for the oldest request's deadline, only while requests are in
 * flight, and unref'd. Per request the cost is one Map insert and delete; the Map keeps
 * insertion order, which is start order, so a tick stops at the first request not yet due.
 */
export class SlowRequestDetector implements RequestHook {
  readonly thresholdMs: number;
  readonly #onSlow: (request: SlowRequest) => void;
  readonly #report: (error: unknown, where: string) => void;
  /** Start time of each request in flight and not yet reported, in start order. */
  readonly #inFlight = new Set<RequestScope>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #tick = () => this.#check();

  constructor(options: SlowRequestDetectorOptions) {
    this.thresholdMs = options.thresholdMs;
    this.#onSlow = options.onSlowRequest;
    this.#report = options.report;
  }

  /** Requests watched now (in flight and not yet reported). */
  get watching(): number {
    return this.#inFlight.size;
  }

  /** Whether the shared timer is armed. */
  get timerArmed(): boolean {
    return this.#timer !== undefined;
  }

  onStart(scope: RequestScope): void {
    if (this.#closed) return;
    // Our own clock reading rather than scope.startTime, so the threshold is measured on
    // the same clock the timer runs on.
    // The scope's own start time: no second clock read per request.
    this.#inFlight.add(scope);
    if (this.#timer === undefined) this.#arm(this.thresholdMs);
  }

  onEnd(scope: RequestScope): void {
    // The timer is left to expire: clearing and re-arming it per request would cost a
    // timer per request at low concurrency. It finds nothing and stays disarmed.
    this.#inFlight.delete(scope);
  }

  /** Stops the timer and forgets every request. Idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inFlight.clear();
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(this.#tick, delayMs);
    this.#timer.unref();
  }

  #check(): void {
    this.#timer = undefined;
    const now = performance.now();
    const threshold = this.thresholdMs;
    for (const scope of this.#inFlight) {
      const elapsed = now - scope.startTime;
      if (elapsed < threshold) {
        // Ceil: a timer firing a fraction early would otherwise spin on 0 ms re-arms.
        this.#arm(Math.max(1, Math.ceil(threshold - elapsed)));
        return;
      }
      this.#inFlight.delete(scope);
      try {
        this.#onSlow({ method: METHOD_NAMES[scope.method]!, route: scope.route, url: scope.req.url, elapsedMs: elapsed, thresholdMs: threshold, scope });
      } catch (error) {
        this.#report(error, 'slow-request');
      }
    }
  }
}
