export { CircuitBreaker } from './breaker.js';
export type {
  CircuitState,
  CircuitBreakerEvents,
  CircuitBreakerEventName,
  CircuitBreakerHealth,
  CircuitBreakerStats,
  StateChangeEvent,
  StateChangeReason,
  RateTripEvent,
  ConsecutiveFailuresEvent,
  OpenElapsedEvent,
  TrialFailureEvent,
  TrialSuccessEvent,
  ResetEvent,
  CallEvent,
  SuccessEvent,
  FailureEvent,
  TimeoutEvent,
  RejectEvent,
  FallbackEvent,
  CancelEvent,
  ExecuteOptions,
} from './events.js';
export type { CircuitBreakerOptions, WindowOptions, ResolvedBreakerOptions } from './options.js';
export { CircuitOpenError, CircuitTimeoutError, CircuitFallbackError } from './errors.js';
export { isCircuitOpenError, isCircuitTimeoutError } from '../errors.js';
export { SlowRequestDetector } from './slow-requests.js';
export type { SlowRequest, SlowRequestDetectorOptions } from './slow-requests.js';
export { BreakerMetrics, slowRequestCounter } from './breaker-metrics.js';
export { breakersConcern, slowRequestsConcern } from './concern.js';
export type { BreakerHealthCheck, BreakerSinks, BreakersConcern } from './concern.js';
