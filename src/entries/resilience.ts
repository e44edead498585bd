/** `periscope/resilience`: a standalone circuit breaker (unmetered; `obs.breaker()` meters one), its errors and types. */
export { CircuitBreaker, CircuitOpenError, CircuitTimeoutError, CircuitFallbackError, isCircuitOpenError, isCircuitTimeoutError } from '../resilience/index.js';
export type {
  CallEvent,
  CancelEvent,
  CircuitBreakerEventName,
  CircuitBreakerEvents,
  CircuitBreakerHealth,
  CircuitBreakerOptions,
  CircuitBreakerStats,
  CircuitState,
  ExecuteOptions,
  FailureEvent,
  FallbackEvent,
  RejectEvent,
  StateChangeEvent,
  StateChangeReason,
  SuccessEvent,
  TimeoutEvent,
  WindowOptions,
} from '../resilience/index.js';
