/**
 * Every error periscope throws at setup, in one table. Codes are stable: users
 * match on `error.code`, and the README lists each one.
 */

/** The brand lets two installed copies of periscope recognise each other's errors. */
const kPeriscopeError = Symbol.for('periscope.error');

/**
 * Each code's message template. The parameters are typed per code, so
 * `createError(code, args)` type-checks only with that code's own arguments.
 */
export const ERRORS = {
  PERISCOPE_ERR_INVALID_OPTION: (option: string, value: string, allowed: string) =>
    `Invalid option \`${option}\`: got ${value}; allowed: ${allowed}.`,
  PERISCOPE_ERR_UNKNOWN_OPTION: (option: string, known: string) =>
    `Unknown option \`${option}\`; known options here: ${known}.`,
  PERISCOPE_ERR_INVALID_ARGUMENT: (call: string, what: string, allowed: string, got: string) =>
    `${call}: ${what} must be ${allowed}, got ${got}.`,
  PERISCOPE_ERR_UNSUPPORTED_APP: (got: string) =>
    `instrument() takes a Fastify instance, an Express app or a node:http Server; got ${got}.`,
  PERISCOPE_ERR_ALREADY_INSTRUMENTED: () =>
    'This app is already instrumented; call instrument() once per app and keep the handle it returns.',
  PERISCOPE_ERR_DUPLICATE_CHECK: (name: string) =>
    `A health check named "${name}" is already registered; each check needs its own name.`,
  PERISCOPE_ERR_TOO_LATE: (framework: string, reason: string) =>
    `instrument() was called too late for this ${framework} app: ${reason}. Call it before the app starts listening.`,
  PERISCOPE_ERR_CIRCUIT_OPEN: (name: string, state: 'open' | 'half_open') =>
    `Circuit breaker "${name}" is ${state === 'open' ? 'open' : 'half open with every trial call in flight'}; the call was rejected without running.`,
  PERISCOPE_ERR_CIRCUIT_TIMEOUT: (name: string, ms: number) =>
    `Call through circuit breaker "${name}" timed out after ${ms} ms; its signal was aborted.`,
  PERISCOPE_ERR_CIRCUIT_FALLBACK: (name: string, message: string) =>
    `Circuit breaker "${name}" rejected the call and its fallback threw: ${message}.`,
  PERISCOPE_ERR_DUPLICATE_BREAKER: (name: string) =>
    `A circuit breaker named "${name}" already exists on this handle; create it once and keep the breaker obs.breaker() returned.`,
  PERISCOPE_ERR_UNGUARDED_DIAGNOSTICS: (option: string, where: string) =>
    `Refusing to serve diagnostics (CPU and heap profiles, heap snapshots) ${where}: \`${option}\` exposes the process's memory. Set diagnostics.auth ({ bearerToken } or { username, password }), or serve them on diagnostics.port with diagnostics.host "127.0.0.1".`,
  PERISCOPE_ERR_SECRET_FILE: (variable: string, problem: string) =>
    `Cannot take the credential of ${variable}: it ${problem}. The credential is required as set, so periscope does not start without it.`,
  PERISCOPE_ERR_CONSOLE_IN_PRODUCTION: () =>
    'Refusing to start the developer console under NODE_ENV=production: it shows every request, span and log line of this process. Set console: { allowProduction: true } to serve it there anyway.',
  PERISCOPE_ERR_CONSOLE_OFF: () =>
    'obs.consoleUrl(): the developer console is off; turn it on with console: true (or PERISCOPE_CONSOLE=1).',
} as const satisfies Record<`PERISCOPE_ERR_${string}`, (...args: never[]) => string>;

export type PeriscopeErrorCode = keyof typeof ERRORS;

/** The message arguments of `code`, in order: `ErrorArgs<'PERISCOPE_ERR_INVALID_OPTION'>` is `[option, value, allowed]`. */
export type ErrorArgs<C extends PeriscopeErrorCode> = Parameters<(typeof ERRORS)[C]>;

/** The error periscope throws for bad setup. Match on `code`, or use {@link isPeriscopeError}. */
export class PeriscopeError extends Error {
  readonly code: PeriscopeErrorCode;
  /** The option at fault, when one is (dotted path such as `metrics.port`). */
  readonly option: string | undefined;
  readonly [kPeriscopeError] = true;

  constructor(code: PeriscopeErrorCode, message: string, option?: string) {
    super(message);
    this.name = 'PeriscopeError';
    this.code = code;
    this.option = option;
  }
}

/** The message of `code` for `args`, prefixed with the code (as every periscope error's message is). */
export function formatError<C extends PeriscopeErrorCode>(code: C, args: ErrorArgs<C>): string {
  // TypeScript cannot tie `ERRORS[code]` to `ErrorArgs<C>` for a generic C; the signature above does.
  const template = ERRORS[code] as (...a: ErrorArgs<C>) => string;
  return `${code}: ${template(...args)}`;
}

/** Builds the error for `code` from the table's message template; `args` must be that code's arguments. */
export function createError<C extends PeriscopeErrorCode>(code: C, args: ErrorArgs<C>, option?: string): PeriscopeError {
  return new PeriscopeError(code, formatError(code, args), option);
}

/** True for any periscope error, including one thrown by another installed copy. */
export function isPeriscopeError(value: unknown): value is PeriscopeError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kPeriscopeError] === true;
}

/** True for the error a circuit breaker rejects a call with (`PERISCOPE_ERR_CIRCUIT_OPEN`), from any installed copy. */
export function isCircuitOpenError(
  value: unknown,
): value is PeriscopeError & { readonly breaker: string; readonly state: 'open' | 'half_open'; readonly retryAfterMs: number } {
  return isPeriscopeError(value) && value.code === 'PERISCOPE_ERR_CIRCUIT_OPEN';
}

/** True for the error a circuit breaker's per-call timeout aborts with (`PERISCOPE_ERR_CIRCUIT_TIMEOUT`), from any installed copy. */
export function isCircuitTimeoutError(value: unknown): value is PeriscopeError & { readonly breaker: string; readonly timeoutMs: number } {
  return isPeriscopeError(value) && value.code === 'PERISCOPE_ERR_CIRCUIT_TIMEOUT';
}

/** Renders a user-supplied value for an error message without dumping large objects. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.slice(0, 8).map(describeValue).join(', ')}${value.length > 8 ? ', ...' : ''}]`;
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return String(value);
    case 'function':
      return 'a function';
    default: {
      const name = (value as object).constructor?.name;
      return name && name !== 'Object' ? `a ${name}` : 'an object';
    }
  }
}
