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
 * A watched scope: the detector links scopes into a list through two fields of their own
 * (the core's scopes declare them, so their shape never changes), which makes watching a
 * request two pointer writes, with no hashing and no allocation.
 */
interface Watched extends RequestScope {
  slowPrev: Watched | null;
  slowNext: Watched | null;
}

/**
 * Reports each request still in flight after `thresholdMs`, once. One timer serves every
 * request: it is armed for the oldest request's deadline, only while requests are in
 * flight, and unref'd. Requests are kept in a doubly linked list in start order, so a tick
 * stops at the first request not yet due, and a request that ends is unlinked in O(1).
 * (A Set did the same job; its delete was the largest single periscope function in a CPU
 * profile of the Fastify `metrics` benchmark.)
 */
export class SlowRequestDetector implements RequestHook {
  readonly thresholdMs: number;
  readonly #onSlow: (request: SlowRequest) => void;
  readonly #report: (error: unknown, where: string) => void;
  /** Oldest and newest request in flight and not yet reported. */
  #head: Watched | null = null;
  #tail: Watched | null = null;
  #count = 0;
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
    return this.#count;
  }

  /** Whether the shared timer is armed. */
  get timerArmed(): boolean {
    return this.#timer !== undefined;
  }

  onStart(scope: RequestScope): void {
    if (this.#closed) return;
    // The threshold is measured from the scope's own start time: no second clock read.
    const w = scope as Watched;
    const tail = this.#tail;
    w.slowPrev = tail;
    w.slowNext = null;
    if (tail === null) this.#head = w;
    else tail.slowNext = w;
    this.#tail = w;
    this.#count++;
    if (this.#timer === undefined) this.#arm(this.thresholdMs);
  }

  onEnd(scope: RequestScope): void {
    // The timer is left to expire: clearing and re-arming it per request would cost a
    // timer per request at low concurrency. It finds nothing and stays disarmed.
    this.#unlink(scope as Watched);
  }

  /** Stops the timer and forgets every request. Idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#head !== null) this.#unlink(this.#head);
  }

  #unlink(w: Watched): void {
    const prev = w.slowPrev;
    const next = w.slowNext;
    // Not in the list: already reported, never watched (started before close), or ended twice.
    if (prev === null && this.#head !== w) return;
    if (prev === null) this.#head = next;
    else prev.slowNext = next;
    if (next === null) this.#tail = prev;
    else next.slowPrev = prev;
    w.slowPrev = null;
    w.slowNext = null;
    this.#count--;
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(this.#tick, delayMs);
    this.#timer.unref();
  }

  #check(): void {
    this.#timer = undefined;
    const now = performance.now();
    const threshold = this.thresholdMs;
    for (let w = this.#head; w !== null; w = this.#head) {
      const elapsed = now - w.startTime;
      if (elapsed < threshold) {
        // Ceil: a timer firing a fraction early would otherwise spin on 0 ms re-arms.
        this.#arm(Math.max(1, Math.ceil(threshold - elapsed)));
        return;
      }
      this.#unlink(w);
      try {
        this.#onSlow({ method: METHOD_NAMES[w.method]!, route: w.route, url: w.req.url, elapsedMs: elapsed, thresholdMs: threshold, scope: w });
      } catch (error) {
        this.#report(error, 'slow-request');
      }
    }
  }
}
