import { trace } from '@opentelemetry/api';
import { CircuitFallbackError, CircuitOpenError, CircuitTimeoutError } from './errors.js';
import { checkBreakerName, resolveBreakerOptions } from './options.js';
import type { CircuitBreakerOptions, ResolvedBreakerOptions } from './options.js';
import { CountWindow, TimeWindow } from './window.js';
import type { SlidingWindow, WindowTotals } from './window.js';

import type {
  CircuitBreakerEventName,
  CircuitBreakerEvents,
  CircuitBreakerHealth,
  CircuitBreakerStats,
  CircuitState,
  ExecuteOptions,
  StateChangeEvent,
  StateChangeReason,
} from './events.js';
type Transition =
  | { readonly reason: 'failure_rate' | 'slow_call_rate'; readonly totals: WindowTotals }
  | { readonly reason: 'consecutive_failures'; readonly totals: WindowTotals; readonly consecutive: number }
  | { readonly reason: 'trial_failure'; readonly failed: boolean; readonly slow: boolean }
  | { readonly reason: 'trial_success'; readonly trials: number }
  | { readonly reason: 'open_elapsed' | 'reset' };

const TARGET: { readonly [R in StateChangeReason]: CircuitState } = {
  failure_rate: 'open',
  slow_call_rate: 'open',
  consecutive_failures: 'open',
  open_elapsed: 'half_open',
  trial_failure: 'open',
  trial_success: 'closed',
  reset: 'closed',
};

const OPEN_ELAPSED: Transition = { reason: 'open_elapsed' };
const RESET: Transition = { reason: 'reset' };

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
    if (this.#state !== 'closed') this.#transition(RESET);
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
  // Kept whole (about 70 lines): admission, the call, its timeout and its settlement are one
  // state machine on every call's path, easier to check against the README read in order.
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
    // A trial has a bound even without a call timeout: one hung trial must not hold the
    // breaker half open forever.
    const timeoutMs = trial ? this.#trialTimeoutMs() : this.options.timeoutMs;
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

  /** A trial's timeout: `halfOpenTimeoutMs`, or `timeoutMs` when that is shorter. */
  #trialTimeoutMs(): number {
    const { timeoutMs, halfOpenTimeoutMs } = this.options;
    return timeoutMs === false || halfOpenTimeoutMs < timeoutMs ? halfOpenTimeoutMs : timeoutMs;
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
        this.#transition({ reason: 'trial_failure', failed, slow });
      } else if (++this.#trialSuccesses >= this.options.halfOpenMaxCalls) {
        this.#transition({ reason: 'trial_success', trials: this.#trialSuccesses });
      }
      return;
    }
    if (state !== 'closed') return;
    this.#window.record(now, failed, slow);
    this.#consecutive = failed ? this.#consecutive + 1 : 0;
    const o = this.options;
    const totals = this.#window.totals(now, this.#totals);
    if (o.consecutiveFailures > 0 && this.#consecutive >= o.consecutiveFailures) {
      this.#transition({ reason: 'consecutive_failures', totals, consecutive: this.#consecutive });
      return;
    }
    if (totals.calls < o.minimumCalls) return;
    if (rate(totals.failures, totals.calls) >= o.failureThreshold) this.#transition({ reason: 'failure_rate', totals });
    else if (slowMs !== false && rate(totals.slowCalls, totals.calls) >= o.slowCallThreshold) this.#transition({ reason: 'slow_call_rate', totals });
  }

  /** Applies the lazy open -> half_open move when `openMs` has elapsed; returns the state. */
  #advance(now: number): CircuitState {
    if (this.#state === 'open' && now - this.#openedAt >= this.options.openMs) this.#transition(OPEN_ELAPSED);
    return this.#state;
  }

  #transition(change: Transition): void {
    const to = TARGET[change.reason];
    // Built before the window is reset below: a trip's rates are read from the window's totals.
    const event = this.#listeners.stateChange.length > 0 ? this.#stateChangeEvent(change) : undefined;
    this.#state = to;
    this.#generation++;
    this.#trialsInFlight = 0;
    this.#trialSuccesses = 0;
    this.#consecutive = 0;
    if (to === 'open') this.#openedAt = performance.now();
    if (to === 'closed') this.#window.reset();
    if (to === 'open') this.#window.reset();
    if (event !== undefined) this.#emit('stateChange', event);
  }

  /**
   * The public payload of `change`. `from` is written per reason because each reason
   * happens from one state only (the transitions above are its only callers).
   */
  #stateChangeEvent(change: Transition): StateChangeEvent {
    const name = this.name;
    switch (change.reason) {
      case 'failure_rate':
      case 'slow_call_rate': {
        const { calls, failures, slowCalls } = change.totals;
        return { name, from: 'closed', to: 'open', reason: change.reason, failureRate: rate(failures, calls), slowCallRate: rate(slowCalls, calls), calls, consecutiveFailures: 0 };
      }
      case 'consecutive_failures': {
        const { calls, failures, slowCalls } = change.totals;
        return {
          name, from: 'closed', to: 'open', reason: 'consecutive_failures',
          failureRate: rate(failures, calls), slowCallRate: rate(slowCalls, calls), calls, consecutiveFailures: change.consecutive,
        };
      }
      case 'open_elapsed':
        return { name, from: 'open', to: 'half_open', reason: 'open_elapsed', failureRate: 0, slowCallRate: 0, calls: 0, consecutiveFailures: 0 };
      case 'trial_failure':
        return {
          name, from: 'half_open', to: 'open', reason: 'trial_failure',
          failureRate: change.failed ? 1 : 0, slowCallRate: change.slow ? 1 : 0, calls: 1, consecutiveFailures: 0,
        };
      case 'trial_success':
        return { name, from: 'half_open', to: 'closed', reason: 'trial_success', failureRate: 0, slowCallRate: 0, calls: change.trials, consecutiveFailures: 0 };
      case 'reset':
        return {
          name, from: this.#state === 'open' ? 'open' : 'half_open', to: 'closed', reason: 'reset',
          failureRate: 0, slowCallRate: 0, calls: 0, consecutiveFailures: 0,
        };
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
