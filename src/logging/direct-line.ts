import pino from 'pino';
import type { Logger } from 'pino';
import { isMadeRequestId } from './request-id.js';

const sym = pino.symbols as unknown as Record<string, symbol>;
const { chindingsSym, endSym, formattersSym, hooksSym, lsCacheSym, messageKeySym, msgPrefixSym, needsMetadataGsym, nestedKeySym, serializersSym, streamSym, stringifiersSym, timeSym, wildcardFirstSym } = sym as Record<string, symbol>;
/** A pino logger's own `onChild` when none was given: pino's `noop`. */
const pinoNoop = (pino({ enabled: false }, { write() {} }) as unknown as { onChild: unknown }).onChild;

/** Every key the request line can carry (besides `headers` and `err`, which always go through pino). */
const LINE_KEYS: readonly string[] = ['trace_id', 'span_id', 'trace_flags', 'request_id', 'method', 'route', 'path', 'status_code', 'duration_ms', 'bytes', 'client_address', 'user_agent', 'msg'];

type PinoInternals = Record<symbol, unknown> & Logger;

/** Request-line fragments are cached for at most this many routes, and this many methods of each. */
const MAX_CACHED_ROUTES = 2000;
const MAX_CACHED_METHODS = 16;

/** The request line's fields this writer knows (the line without `headers` and `err`). */
export interface DirectLine {
  readonly trace_id: string | undefined;
  readonly span_id: string | undefined;
  readonly trace_flags: string | undefined;
  readonly request_id: string | undefined;
  readonly method: string | undefined;
  readonly route: string | undefined;
  readonly path: string | undefined;
  readonly status_code: number | undefined;
  readonly duration_ms: number | undefined;
  readonly bytes: number | undefined;
  readonly client_address: string | undefined;
  readonly user_agent: string | undefined;
}

/** `''` and `.001` to `.999` without trailing zeros: the fraction of a number of milliseconds to the microsecond. */
const FRACTIONS: readonly string[] = Array.from({ length: 1000 }, (_, i) => (i === 0 ? '' : `.${String(i).padStart(3, '0').replace(/0+$/, '')}`));

/**
 * `ms` as JSON writes it (`null` when not finite). A whole number of microseconds below 10^9 ms
 * (every duration the line carries) is its whole milliseconds and a fraction from a table:
 * the same digits as JavaScript's shortest round-trip form, which any number with at most
 * three decimals in that range has, without V8's double-to-string conversion (about 500
 * instructions under callgrind). Any other number is left to that conversion.
 */
export function millis(ms: number): string {
  const us = Math.round(ms * 1000);
  if (us / 1000 === ms && us >= 0 && us < 1e12) {
    const whole = Math.floor(us / 1000);
    return `${whole}${FRACTIONS[us - whole * 1000]}`;
  }
  return Number.isFinite(ms) ? `${ms}` : 'null';
}

/**
 * `JSON.stringify(text)` for a string. Printable ASCII without `"` or `\` (paths, user agents,
 * addresses, IDs: nearly every value the line carries) needs no escape and is quoted as it is,
 * found by one pass over its characters: JSON.stringify's builtin call cost several hundred
 * instructions a value under callgrind whatever the string. Anything else goes to JSON.stringify.
 */
export function quoteJson(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(text);
  }
  return `"${text}"`;
}

/**
 * Writes the request line as pino would, from pino's own precomputed pieces of this logger
 * (the level prefix, the time function, the bindings, the line end) and the line's few known
 * fields, without pino's general path (the mixin, the merge, a loop over the object's keys
 * looking up serializers and stringifiers for each). In process that path cost about 0.9 µs a
 * line against about 0.4 µs for this one; the request line is written on every request.
 *
 * Used only when nothing in the logger's configuration could change the line: see
 * {@link directLineWriter}. Strings are escaped as JSON.stringify does ({@link quoteJson}),
 * which pino also uses for any string it cannot pass through as it is; the only difference is a
 * lone UTF-16 surrogate, which this escapes and pino writes raw.
 */
export class DirectLineWriter {
  readonly #logger: PinoInternals;
  readonly #levelValues: Record<string, number>;
  readonly #msg: string;
  /** `,"method":…,"route":…` per route and method, quoted once: route templates are few. */
  readonly #methodRoutes = new Map<string, Map<string, string>>();

  constructor(logger: Logger, message: string) {
    this.#logger = logger as PinoInternals;
    this.#levelValues = logger.levels.values;
    this.#msg = `,"msg":${JSON.stringify(message)}`;
  }

  write(level: string, line: DirectLine): void {
    const l = this.#logger;
    let s = (l[lsCacheSym] as Record<number, string>)[this.#levelValues[level]!]! + (l[timeSym] as () => string)() + (l[chindingsSym] as string);
    // Trace and span IDs are lowercase hex: nothing to escape; nor in a request ID that is one
    // of them or one periscope made (a UUID).
    const traceId = line.trace_id;
    if (traceId !== undefined) s += `,"trace_id":"${traceId}","span_id":"${line.span_id}","trace_flags":"${line.trace_flags}"`;
    const requestId = line.request_id;
    if (requestId !== undefined) s += requestId === traceId || isMadeRequestId(requestId) ? `,"request_id":"${requestId}"` : `,"request_id":${quoteJson(requestId)}`;
    const method = line.method;
    const route = line.route;
    if (method !== undefined && route !== undefined) s += this.#methodRoute(method, route);
    else {
      if (method !== undefined) s += `,"method":${quoteJson(method)}`;
      if (route !== undefined) s += `,"route":${quoteJson(route)}`;
    }
    if (line.path !== undefined) s += `,"path":${quoteJson(line.path)}`;
    if (line.status_code !== undefined) s += `,"status_code":${line.status_code}`;
    if (line.duration_ms !== undefined) s += `,"duration_ms":${millis(line.duration_ms)}`;
    if (line.bytes !== undefined) s += `,"bytes":${line.bytes}`;
    if (line.client_address !== undefined) s += `,"client_address":${quoteJson(line.client_address)}`;
    if (line.user_agent !== undefined) s += `,"user_agent":${quoteJson(line.user_agent)}`;
    (l[streamSym] as { write(s: string): unknown }).write(s + this.#msg + (l[endSym] as string));
  }

  #methodRoute(method: string, route: string): string {
    let byMethod = this.#methodRoutes.get(route);
    let fragment = byMethod?.get(method);
    if (fragment !== undefined) return fragment;
    fragment = `,"method":${quoteJson(method)},"route":${quoteJson(route)}`;
    if (byMethod === undefined) {
      // A `routeOf` that returns raw paths must not grow this forever.
      if (this.#methodRoutes.size >= MAX_CACHED_ROUTES) return fragment;
      byMethod = new Map();
      this.#methodRoutes.set(route, byMethod);
    }
    // Methods are few, but a client can send any token: only the first few are kept.
    if (byMethod.size < MAX_CACHED_METHODS) byMethod.set(method, fragment);
    return fragment;
  }
}

/**
 * A {@link DirectLineWriter} for `logger`, or undefined when its configuration could make
 * pino write the line differently: a redact path, serializer or stringifier on one of the
 * line's keys (or a leading wildcard), a `formatters.log`, a nested key, a message key other
 * than `msg` or a message prefix, `logMethod`/`streamWrite` hooks, or a destination that needs
 * pino's per-line metadata (pino.multistream). Then the line goes through pino as any other.
 */
export function directLineWriter(logger: Logger, message: string): DirectLineWriter | undefined {
  const l = logger as PinoInternals;
  const stringifiers = l[stringifiersSym] as Record<string | symbol, unknown> | undefined;
  const serializers = l[serializersSym] as Record<string, unknown> | undefined;
  if (stringifiers?.[wildcardFirstSym!] !== undefined) return undefined;
  for (const key of LINE_KEYS) {
    if (stringifiers?.[key] !== undefined || serializers?.[key] !== undefined) return undefined;
  }
  const formatters = l[formattersSym] as { log?: unknown } | undefined;
  const hooks = l[hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const stream = l[streamSym] as Record<symbol, unknown> | undefined;
  if (formatters?.log !== undefined || l[nestedKeySym] || hooks?.logMethod !== undefined || hooks?.streamWrite !== undefined) return undefined;
  if (l[messageKeySym] !== 'msg' || (l[msgPrefixSym] !== undefined && l[msgPrefixSym] !== '')) return undefined;
  if (stream === undefined || stream[needsMetadataGsym!] === true || typeof (stream as { write?: unknown }).write !== 'function') return undefined;
  if (typeof l[timeSym] !== 'function' || typeof l[chindingsSym] !== 'string' || typeof l[endSym] !== 'string') return undefined;
  return new DirectLineWriter(logger, message);
}

/**
 * Makes children of `parent` that carry one string binding, `key`, as pino's
 * `parent.child({ [key]: value })` would make them, without its per-child work (a formatters
 * object, the bindings' serialization loop): each is `Object.create` of one child made once
 * through pino, with the binding appended to that child's serialized bindings, as pino does.
 * Undefined when the logger's configuration could make pino's child differ: a serializer or
 * stringifier for `key` (or a leading wildcard), an `onChild` hook. Fastify's `request.log`
 * is one such child per request.
 */
export function bindingChildren(parent: Logger, key: string): ((value: string) => Logger) | undefined {
  const l = parent as PinoInternals;
  const stringifiers = l[stringifiersSym] as Record<string | symbol, unknown> | undefined;
  const serializers = l[serializersSym] as Record<string, unknown> | undefined;
  if (stringifiers?.[wildcardFirstSym!] !== undefined || stringifiers?.[key] !== undefined || serializers?.[key] !== undefined) return undefined;
  if ((parent as unknown as { onChild: unknown }).onChild !== pinoNoop) return undefined;
  const base = parent.child({}) as PinoInternals;
  const chindings = base[chindingsSym];
  if (typeof chindings !== 'string') return undefined;
  const prefix = `${chindings},${JSON.stringify(key)}:`;
  return (value) => {
    const child = Object.create(base) as PinoInternals;
    child[chindingsSym] = prefix + quoteJson(value);
    return child;
  };
}
