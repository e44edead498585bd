import { trace } from '@opentelemetry/api';
import { CircuitFallbackError, CircuitOpenError, CircuitTimeoutError } from './errors.js';
import { checkBreakerName, resolveBreakerOptions } from './options.js';
import type { CircuitBreakerOptions, ResolvedBreakerOptions } from './options.js';
import { CountWindow, TimeWindow } from './window.js';
import type { SlidingWindow, WindowTotals } from './window.js';

/** `closed` lets calls through, `open` rejects them, `half_open` admits a few trial calls. */
export type CircuitState = 'closed' | 'open' | 'half_open';

/** Why the breaker changed state. */
export type StateChangeReason =
  | 'failure_rate'
  | 'slow_call_rate'
  | 'consecutive_failures'
  | 'open_elapsed'
  | 'trial_failure'
  | 'trial_success'
  | 'reset';

/** Payload of `stateChange`: what changed and the numbers that made it change. */
export interface StateChangeEvent {
  readonly name: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: StateChangeReason;
  /**
   * `trial_failure` covers a trial call that failed or (with `slowCallMs`) was slow.
   * Failure rate (0..1) that caused the change: over the window for a trip from closed,
   * over the trial calls for a change from half_open, 0 for `open_elapsed`.
   */
  readonly failureRate: number;
  /** Slow-call rate (0..1) measured the same way. */
  readonly slowCallRate: number;
  /** Calls the rate was measured over. */
  readonly calls: number;
  /** Failures in a row when the breaker opened on `consecutive_failures`; else 0. */
  readonly consecutiveFailures: number;
}

/** Payload of `success`, `failure` and `timeout`. `durationMs` is the call's run time. */
export interface CallEvent {
  readonly name: string;
  readonly state: CircuitState;
  readonly durationMs: number;
  /** The call took at least `slowCallMs`. Always false when `slowCallMs` is off. */
  readonly slow: boolean;
}

export interface FailureEvent extends CallEvent {
  readonly error: unknown;
}

/** `success` also fires for an error `isFailure` did not count; `error` is then that error. */
export interface SuccessEvent extends CallEvent {
  readonly error: unknown;
}

export interface TimeoutEvent extends CallEvent {
  readonly error: CircuitTimeoutError;
}

/** Payload of `reject`: the call did not run. `fallback` tells whether a fallback will answer it. */
export interface RejectEvent {
  readonly name: string;
  readonly state: 'open' | 'half_open';
  readonly error: CircuitOpenError;
  readonly fallback: boolean;
}

/** Payload of `fallback`, once the fallback settled. */
export interface FallbackEvent {
  readonly name: string;
  readonly ok: boolean;
  /** What the fallback threw, when `ok` is false. */
  readonly error: unknown;
}

/** Payload of `cancel`: the caller's own signal aborted the call; it counts as neither success nor failure. */
export interface CancelEvent {
  readonly name: string;
  readonly state: CircuitState;
  readonly reason: unknown;
}

/** Every event a breaker emits, by name, with its payload type. */
export interface CircuitBreakerEvents {
  stateChange: StateChangeEvent;
  success: SuccessEvent;
  failure: FailureEvent;
  timeout: TimeoutEvent;
  reject: RejectEvent;
  fallback: FallbackEvent;
  cancel: CancelEvent;
}

export type CircuitBreakerEventName = keyof CircuitBreakerEvents;

/** What a health check reads: `open` and `half_open` are `degraded`. */
export interface CircuitBreakerHealth {
  readonly status: 'healthy' | 'degraded';
  readonly state: CircuitState;
  readonly message: string;
}

/** A snapshot of the breaker's counters. */
export interface CircuitBreakerStats {
  readonly state: CircuitState;
  /** Calls, failures and slow calls in the window now (0 outside the closed state). */
  readonly calls: number;
  readonly failures: number;
  readonly slowCalls: number;
  readonly failureRate: number;
  readonly slowCallRate: number;
  readonly consecutiveFailures: number;
  /** Calls running now, trials included. */
  readonly inFlight: number;
  /** Trial calls running now (half_open only). */
  readonly trialsInFlight: number;
  /** Slots the sliding window holds: fixed at construction, whatever the call rate. */
  readonly windowSlots: number;
}

/** Per-call options of {@link CircuitBreaker.execute}. */
export interface ExecuteOptions {
  /** The caller's signal: aborting it aborts the call's signal and rejects with its reason. */
  signal?: AbortSignal;
}

type Listener<K extends CircuitBreakerEventName> = (event: CircuitBreakerEvents[K]) => void;
type ListenerTable = { [K in CircuitBreakerEventName]: Listener<K>[] };

const rate = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);

/**
 * A circuit breaker: `await breaker.execute((signal) => fetch(url, { signal }))`.
 * State changes happen lazily, on a call or a read of `state`, from timestamps: an idle
 * breaker runs no timer. The only timer is each call's own timeout, cleared when the
 * call settles and unref'd. Usable standalone or through `obs.breaker()`, which also
 * meters it.
 */
export class CircuitBreaker<F = never> {
  /** The name given at construction (metric label, health check name). */
  readonly name: string;
  /** The options after defaults were applied (frozen). */
  readonly options: ResolvedBreakerOptions<F>;
  #state: CircuitState = 'closed';
  /** Bumped on every state change, so calls admitted before it cannot decide the new state. */
  #generation = 0;
  #openedAt = 0;
  #consecutive = 0;
  #inFlight = 0;
  #trialsInFlight = 0;
  #trialSuccesses = 0;
  readonly #window: SlidingWindow;
  readonly #totals: WindowTotals = { calls: 0, failures: 0, slowCalls: 0 };
  readonly #listeners: ListenerTable = { stateChange: [], success: [], failure: [], timeout: [], reject: [], fallback: [], cancel: [] };
  #warnedListener = false;

  /**
   * @param name Names the breaker in metrics, logs, spans and health checks.
   * @param options See {@link CircuitBreakerOptions}; each default is justified there.
   * @throws PeriscopeError `PERISCOPE_ERR_INVALID_OPTION` / `PERISCOPE_ERR_UNKNOWN_OPTION` for bad options.
   */
  constructor(name: string, options?: CircuitBreakerOptions<F>) {
    this.name = checkBreakerName(name);
    this.options = resolveBreakerOptions<F>(name, options);
    const w = this.options.window;
    this.#window = w.type === 'count' ? new CountWindow(w.size) : new TimeWindow(w.ms, w.buckets);
  }

  /** The current state; reading it moves an open breaker whose `openMs` has elapsed to half_open. */
  get state(): CircuitState {
    return this.#advance(performance.now());
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends CircuitBreakerEventName>(event: K, listener: Listener<K>): () => void {
    const list = this.#listeners[event] as Listener<K>[] | undefined;
    if (list === undefined) throw new TypeError(`Unknown circuit breaker event ${JSON.stringify(event)}`);
    list.push(listener);
    return () => this.off(event, listener);
  }

  /** Removes a listener added with {@link on}. */
  off<K extends CircuitBreakerEventName>(event: K, listener: Listener<K>): void {
    const list = this.#listeners[event] as Listener<K>[] | undefined;
    const i = list === undefined ? -1 : list.indexOf(listener);
    if (i !== -1) list!.splice(i, 1);
  }

  /** For a health check: closed is healthy; open and half_open are degraded, with why. */
  health(): CircuitBreakerHealth {
    const now = performance.now();
    const state = this.#advance(now);
    if (state === 'closed') return { status: 'healthy', state, message: `circuit breaker "${this.name}" is closed` };
    if (state === 'half_open') {
      return { status: 'degraded', state, message: `circuit breaker "${this.name}" is half open: trial calls decide whether it closes` };
    }
    const retry = Math.max(0, Math.ceil(this.#openedAt + this.options.openMs - now));
    return { status: 'degraded', state, message: `circuit breaker "${this.name}" is open: calls are rejected; a trial call is admitted in ${retry} ms` };
  }

  /** A snapshot of the counters (the window's totals as of now). */
  stats(): CircuitBreakerStats {
    const now = performance.now();
    const state = this.#advance(now);
    const t = this.#window.totals(now, this.#totals);
    return {
      state,
      calls: t.calls,
      failures: t.failures,
      slowCalls: t.slowCalls,
      failureRate: rate(t.failures, t.calls),
      slowCallRate: rate(t.slowCalls, t.calls),
      consecutiveFailures: this.#consecutive,
      inFlight: this.#inFlight,
      trialsInFlight: this.#trialsInFlight,
      windowSlots: this.#window.slots,
    };
  }

  /** Closes the breaker and forgets the window, whatever its state (for operators and tests). */
  reset(): void {
    if (this.#state !== 'closed') this.#transition('closed', 'reset', 0, 0, 0, 0);
    else this.#window.reset();
    this.#consecutive = 0;
  }

  /**
   * Runs `fn` through the breaker. `fn` gets a signal of its own, aborted on timeout or
   * when `options.signal` aborts; it runs synchronously in the caller's async context
   * (its active span included). Rejects with `CircuitOpenError` when the breaker does not
   * admit the call (or resolves with the fallback's answer), with `CircuitTimeoutError`
   * after `timeoutMs`, with the caller's abort reason, or with what `fn` threw.
   */
  execute<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T | F> {
    // A programming error, not the dependency failing: it must not count against the window.
    if (typeof fn !== 'function') return Promise.reject(new TypeError(`breaker.execute() takes a function of an AbortSignal; got ${typeof fn}`));
    const callerSignal = options?.signal;
    if (callerSignal?.aborted) return Promise.reject(callerSignal.reason as unknown);
    const now = performance.now();
    const state = this.#advance(now);
    let trial = false;
    if (state === 'open') return this.#reject('open', now);
    if (state === 'half_open') {
      if (this.#trialsInFlight >= this.options.halfOpenMaxCalls) return this.#reject('half_open', now);
      trial = true;
      this.#trialsInFlight++;
    }
    this.#inFlight++;
    const generation = this.#generation;
    const controller = new AbortController();
    const timeoutMs = this.options.timeoutMs;
    return new Promise<T | F>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const onCallerAbort = () => {
        if (settled) return;
        settled = true;
        cleanup();
        const reason = callerSignal!.reason as unknown;
        controller.abort(reason);
        this.#settle(generation, trial);
        if (this.#listeners.cancel.length > 0) this.#emit('cancel', { name: this.name, state: this.#state, reason });
        reject(reason);
      };
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onCallerAbort);
      };
      if (timeoutMs !== false) {
        timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          cleanup();
          const error = new CircuitTimeoutError(this.name, timeoutMs);
          controller.abort(error);
          this.#complete(generation, trial, 'timeout', timeoutMs, error);
          reject(error);
        }, timeoutMs);
        timer.unref();
      }
      callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
      let work: T | PromiseLike<T>;
      try {
        work = fn(controller.signal);
      } catch (error) {
        work = Promise.reject(error);
      }
      Promise.resolve(work).then(
        (value) => {
          if (settled) return;
          settled = true;
          cleanup();
          this.#complete(generation, trial, 'success', performance.now() - now, undefined);
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          cleanup();
          this.#complete(generation, trial, this.#counts(error) ? 'failure' : 'success', performance.now() - now, error);
          reject(error);
        },
      );
    });
  }

  #counts(error: unknown): boolean {
    const isFailure = this.options.isFailure;
    if (isFailure === undefined) return true;
    try {
      return isFailure(error) !== false;
    } catch (thrown) {
      // A broken predicate must not hide a failing dependency: count the error.
      this.#warn('isFailure', thrown);
      return true;
    }
  }

  async #reject(state: 'open' | 'half_open', now: number): Promise<F> {
    const retryAfterMs = state === 'open' ? Math.max(0, Math.ceil(this.#openedAt + this.options.openMs - now)) : 0;
    // Rejecting is the cheap path that protects the service, and a stack trace was most of
    // its cost (measured: ~11 us per rejection with it, see the commit). The stack would
    // only ever point here; the message names the breaker.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    let error: CircuitOpenError;
    try {
      error = new CircuitOpenError(this.name, state, retryAfterMs);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    const fallback = this.options.fallback;
    // No-op without a tracer; with one, the rejection shows on the span of the request that made the call.
    trace.getActiveSpan()?.addEvent('circuit_breaker.rejected', { 'circuit_breaker.name': this.name, 'circuit_breaker.state': state });
    if (this.#listeners.reject.length > 0) this.#emit('reject', { name: this.name, state, error, fallback: fallback !== undefined });
    if (fallback === undefined) throw error;
    let value: F;
    try {
      value = await fallback(error);
    } catch (thrown) {
      if (this.#listeners.fallback.length > 0) this.#emit('fallback', { name: this.name, ok: false, error: thrown });
      throw new CircuitFallbackError(this.name, thrown, error);
    }
    if (this.#listeners.fallback.length > 0) this.#emit('fallback', { name: this.name, ok: true, error: undefined });
    return value;
  }

  /** Releases a call's slots without recording an outcome (the caller cancelled). */
  #settle(generation: number, trial: boolean): void {
    this.#inFlight--;
    if (trial && generation === this.#generation) this.#trialsInFlight--;
  }

  #complete(generation: number, trial: boolean, outcome: 'success' | 'failure' | 'timeout', durationMs: number, error: unknown): void {
    this.#settle(generation, trial);
    const slowMs = this.options.slowCallMs;
    const slow = slowMs !== false && durationMs >= slowMs;
    const failed = outcome !== 'success';
    const state = this.#state;
    if (this.#listeners[outcome].length > 0) {
      const event = { name: this.name, state, durationMs, slow, error };
      this.#emit(outcome, event as CircuitBreakerEvents[typeof outcome]);
    }
    // A call admitted before the last state change says nothing about the new state.
    if (generation !== this.#generation) return;
    const now = performance.now();
    if (state === 'half_open') {
      if (failed || slow) {
        this.#transition('open', 'trial_failure', failed ? 1 : 0, slow ? 1 : 0, 1, 0);
      } else if (++this.#trialSuccesses >= this.options.halfOpenMaxCalls) {
        this.#transition('closed', 'trial_success', 0, 0, this.#trialSuccesses, 0);
      }
      return;
    }
    if (state !== 'closed') return;
    this.#window.record(now, failed, slow);
    this.#consecutive = failed ? this.#consecutive + 1 : 0;
    const o = this.options;
    if (o.consecutiveFailures > 0 && this.#consecutive >= o.consecutiveFailures) {
      const t = this.#window.totals(now, this.#totals);
      this.#transition('open', 'consecutive_failures', rate(t.failures, t.calls), rate(t.slowCalls, t.calls), t.calls, this.#consecutive);
      return;
    }
    const t = this.#window.totals(now, this.#totals);
    if (t.calls < o.minimumCalls) return;
    const failureRate = rate(t.failures, t.calls);
    const slowRate = rate(t.slowCalls, t.calls);
    if (failureRate >= o.failureThreshold) this.#transition('open', 'failure_rate', failureRate, slowRate, t.calls, 0);
    else if (slowMs !== false && slowRate >= o.slowCallThreshold) this.#transition('open', 'slow_call_rate', failureRate, slowRate, t.calls, 0);
  }

  /** Applies the lazy open -> half_open move when `openMs` has elapsed; returns the state. */
  #advance(now: number): CircuitState {
    if (this.#state === 'open' && now - this.#openedAt >= this.options.openMs) this.#transition('half_open', 'open_elapsed', 0, 0, 0, 0);
    return this.#state;
  }

  #transition(to: CircuitState, reason: StateChangeReason, failureRate: number, slowCallRate: number, calls: number, consecutive: number): void {
    const from = this.#state;
    this.#state = to;
    this.#generation++;
    this.#trialsInFlight = 0;
    this.#trialSuccesses = 0;
    this.#consecutive = 0;
    if (to === 'open') this.#openedAt = performance.now();
    if (to === 'closed') this.#window.reset();
    if (to === 'open') this.#window.reset();
    if (this.#listeners.stateChange.length > 0) {
      this.#emit('stateChange', { name: this.name, from, to, reason, failureRate, slowCallRate, calls, consecutiveFailures: consecutive });
    }
  }

  #emit<K extends CircuitBreakerEventName>(event: K, payload: CircuitBreakerEvents[K]): void {
    const list = this.#listeners[event] as Listener<K>[];
    // A listener that unsubscribes while being called must not make the next one skipped.
    const snapshot = list.length === 1 ? list : list.slice();
    for (let i = 0; i < snapshot.length; i++) {
      try {
        snapshot[i]!(payload);
      } catch (error) {
        this.#warn(`a "${event}" listener`, error);
      }
    }
  }

  #warn(what: string, error: unknown): void {
    if (this.#warnedListener) return;
    this.#warnedListener = true;
    const message = error instanceof Error ? error.message : String(error);
    process.emitWarning(`periscope: circuit breaker "${this.name}": ${what} threw: ${message} (reported once per breaker)`, {
      code: 'PERISCOPE_BREAKER_CALLBACK_ERROR',
    });
  }
}
