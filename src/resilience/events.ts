/** The states, events and reports of a circuit breaker: types only. */
import type { CircuitOpenError, CircuitTimeoutError } from './errors.js';

/** `closed` lets calls through, `open` rejects them, `half_open` admits a few trial calls. */
export type CircuitState = 'closed' | 'open' | 'half_open';

/** Why the breaker changed state: the `reason` that discriminates {@link StateChangeEvent}. */
export type StateChangeReason = StateChangeEvent['reason'];

/**
 * Fields every `stateChange` event has. The four numbers are kept on every variant (0 where
 * the reason measured nothing) so a log line can print them without narrowing.
 */
interface StateChangeBase {
  readonly name: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** Failure rate (0..1) that caused the change. */
  readonly failureRate: number;
  /** Slow-call rate (0..1) measured the same way. */
  readonly slowCallRate: number;
  /** Calls the rates were measured over. */
  readonly calls: number;
  /** Failures in a row, for `consecutive_failures`; else 0. */
  readonly consecutiveFailures: number;
}

/** closed -> open: the window's failure or slow-call rate reached its threshold; the rates are the window's. */
export interface RateTripEvent extends StateChangeBase {
  readonly from: 'closed';
  readonly to: 'open';
  readonly reason: 'failure_rate' | 'slow_call_rate';
  readonly consecutiveFailures: 0;
}

/** closed -> open: `consecutiveFailures` failures in a row; the rates are the window's at that moment. */
export interface ConsecutiveFailuresEvent extends StateChangeBase {
  readonly from: 'closed';
  readonly to: 'open';
  readonly reason: 'consecutive_failures';
}

/** open -> half_open: `openMs` elapsed; nothing was measured. */
export interface OpenElapsedEvent extends StateChangeBase {
  readonly from: 'open';
  readonly to: 'half_open';
  readonly reason: 'open_elapsed';
  readonly failureRate: 0;
  readonly slowCallRate: 0;
  readonly calls: 0;
  readonly consecutiveFailures: 0;
}

/**
 * half_open -> open: one trial call failed, timed out (after `timeoutMs`, or
 * `halfOpenTimeoutMs` when that comes first) or, with `slowCallMs`, was slow. Measured
 * over that one call: `calls` is 1, `failureRate` 1 when it failed or timed out,
 * `slowCallRate` 1 when it was slow.
 */
export interface TrialFailureEvent extends StateChangeBase {
  readonly from: 'half_open';
  readonly to: 'open';
  readonly reason: 'trial_failure';
  readonly failureRate: 0 | 1;
  readonly slowCallRate: 0 | 1;
  readonly calls: 1;
  readonly consecutiveFailures: 0;
}

/** half_open -> closed: `halfOpenMaxCalls` trials succeeded; `calls` is how many, the rates 0. */
export interface TrialSuccessEvent extends StateChangeBase {
  readonly from: 'half_open';
  readonly to: 'closed';
  readonly reason: 'trial_success';
  readonly failureRate: 0;
  readonly slowCallRate: 0;
  readonly consecutiveFailures: 0;
}

/** open or half_open -> closed by `reset()`; nothing was measured. */
export interface ResetEvent extends StateChangeBase {
  readonly from: 'open' | 'half_open';
  readonly to: 'closed';
  readonly reason: 'reset';
  readonly failureRate: 0;
  readonly slowCallRate: 0;
  readonly calls: 0;
  readonly consecutiveFailures: 0;
}

/**
 * Payload of `stateChange`, a union discriminated by `reason`: narrowing on it gives the
 * exact `from` and `to` and says which numbers were measured.
 */
export type StateChangeEvent =
  | RateTripEvent
  | ConsecutiveFailuresEvent
  | OpenElapsedEvent
  | TrialFailureEvent
  | TrialSuccessEvent
  | ResetEvent;

/**
 * A state change as the breaker decides it: the reason and only the numbers that reason
 * has. The target state follows from the reason ({@link TARGET}).
 */
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
