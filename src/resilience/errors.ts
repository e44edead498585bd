import { PeriscopeError, formatError } from '../errors.js';

/**
 * A call rejected by an open (or full half-open) breaker, without running.
 * Code `PERISCOPE_ERR_CIRCUIT_OPEN`; recognise it with `isCircuitOpenError`.
 */
export class CircuitOpenError extends PeriscopeError {
  /** Name of the breaker that rejected the call. */
  readonly breaker: string;
  /** State the breaker was in: `'open'`, or `'half_open'` when every trial slot was taken. */
  readonly state: 'open' | 'half_open';
  /** Milliseconds until the breaker admits a trial call (0 when half open). */
  readonly retryAfterMs: number;

  constructor(breaker: string, state: 'open' | 'half_open', retryAfterMs: number) {
    super('PERISCOPE_ERR_CIRCUIT_OPEN', formatError('PERISCOPE_ERR_CIRCUIT_OPEN', [breaker, state]));
    this.name = 'CircuitOpenError';
    this.breaker = breaker;
    this.state = state;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The reason a call's signal is aborted with when it runs past `timeoutMs`; the call's
 * promise rejects with it. Code `PERISCOPE_ERR_CIRCUIT_TIMEOUT`.
 */
export class CircuitTimeoutError extends PeriscopeError {
  readonly breaker: string;
  readonly timeoutMs: number;

  constructor(breaker: string, timeoutMs: number) {
    super('PERISCOPE_ERR_CIRCUIT_TIMEOUT', formatError('PERISCOPE_ERR_CIRCUIT_TIMEOUT', [breaker, timeoutMs]));
    this.name = 'CircuitTimeoutError';
    this.breaker = breaker;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The fallback of a rejected call threw. `cause` is what the fallback threw and
 * `rejection` the {@link CircuitOpenError} it was answering, so neither is lost.
 * Code `PERISCOPE_ERR_CIRCUIT_FALLBACK`.
 */
export class CircuitFallbackError extends PeriscopeError {
  readonly breaker: string;
  readonly rejection: CircuitOpenError;

  constructor(breaker: string, cause: unknown, rejection: CircuitOpenError) {
    const text = cause instanceof Error ? cause.message : String(cause);
    super('PERISCOPE_ERR_CIRCUIT_FALLBACK', formatError('PERISCOPE_ERR_CIRCUIT_FALLBACK', [breaker, text]));
    this.name = 'CircuitFallbackError';
    this.breaker = breaker;
    this.cause = cause;
    this.rejection = rejection;
  }
}
