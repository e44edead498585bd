import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino from 'pino';
import type { Logger, LoggerOptions } from 'pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createError, describeValue } from '../errors.js';
import type { LoggingOptions, ResolvedLoggingOptions } from './options.js';
import { buildDestination } from './destinations.js';
import type { BuiltDestination } from './destinations.js';

/** Header names redacted wherever periscope looks for headers (see {@link HEADER_CONTAINERS}). */
export const REDACTED_HEADERS: readonly string[] = Object.freeze(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key']);

/**
 * Where headers objects are looked for: a logged `headers` object, a request or response
 * (raw, Fastify's, or pino's serialized `req`/`res`), and the request and response of an HTTP
 * client error (axios-style `err.config` / `err.response`); plus the header names at top
 * level, for `logger.info(req.headers)`. Explicit paths, no leading wildcard: pino checks them
 * only when the key is present, while a `*.headers` path measured about 10x slower on every line.
 */
export const HEADER_CONTAINERS: readonly string[] = Object.freeze([
  'headers', 'req.headers', 'request.headers', 'res.headers', 'response.headers', 'reply.headers', 'err.config.headers', 'err.response.headers',
]);

/** The replacement for redacted values. */
export const REDACTED = '[REDACTED]';

/**
 * Fields periscope owns on every line. A user's field of the same name in a log call is
 * written as `user_<name>` so it can never shadow the real one: a JSON parser keeps the last
 * of two equal keys, and pino writes the call's fields last. (Child bindings are written
 * before the call's fields, so the real trace fields already follow them.)
 */
export const RESERVED_FIELDS: readonly string[] = Object.freeze(['level', 'time', 'trace_id', 'span_id', 'trace_flags']);

function redactPaths(extra: readonly string[]): string[] {
  const paths: string[] = [];
  for (const h of REDACTED_HEADERS) {
    const key = `["${h}"]`;
    paths.push(key);
    for (const container of HEADER_CONTAINERS) paths.push(container + key);
  }
  return paths.concat(extra);
}

type Fields = Record<string, unknown>;

let lastMs = Number.NaN;
let lastTime = '';
/** The first millisecond of the second `secondPrefix` is for, and `,"time":"YYYY-MM-DDTHH:MM:SS.` of it. */
let secondStart = Number.NaN;
let secondPrefix = '';
/** `000Z"` to `999Z"`: the milliseconds, the zone and the closing quote. */
const MILLIS: readonly string[] = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(3, '0')}Z"`);

/**
 * pino `timestamp`: the same `"time"` as pino's `isoTime`. A busy server writes many lines in
 * one millisecond, which share one string; a new millisecond in a second already seen costs
 * one concatenation: `toISOString()` (its C++ formatter) runs once a second. Under callgrind
 * it was about 6,800 instructions, a tenth of what a request line cost when each line fell
 * in a millisecond of its own.
 */
export function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    const offset = now - secondStart;
    if (offset >= 0 && offset < 1000) lastTime = secondPrefix + MILLIS[offset]!;
    else {
      const iso = new Date(now).toISOString();
      // `YYYY-MM-DDTHH:MM:SS.mmmZ`; years outside 0000-9999 have another shape and are not cached.
      if (iso.length === 24 && now >= 0) {
        secondStart = now - (now % 1000);
        secondPrefix = `,"time":"${iso.slice(0, 20)}`;
        lastTime = secondPrefix + MILLIS[now - secondStart]!;
      } else {
        secondStart = Number.NaN;
        lastTime = `,"time":"${iso}"`;
      }
    }
  }
  return lastTime;
}

/** Shared, never written to: returned by the mixin when no span is active, so no allocation. */
const NO_TRACE: Fields = Object.freeze({}) as Fields;

/**
 * Marks (on its prototype) a log object that carries its own `trace_id`, `span_id` and
 * `trace_flags`, such as the request line, which takes them from its request scope: the
 * mixin does not look the active span up for it, and its fields are written as they are.
 */
export const kOwnTraceFields = Symbol('periscope.ownTraceFields');

/**
 * pino `mixin`: the active span's IDs, read from the OpenTelemetry context at write time,
 * so any line written in a request's async flow (after awaits, in timers) carries them.
 */
export function traceMixin(obj?: object): Fields {
  if (obj !== undefined && (obj as Record<symbol, unknown>)[kOwnTraceFields] === true) return NO_TRACE;
  const span = trace.getActiveSpan();
  if (span === undefined) return NO_TRACE;
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return NO_TRACE;
  return { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: (sc.traceFlags & 1) === 1 ? '01' : '00' };
}

function hasReserved(obj: Fields): boolean {
  return obj.level !== undefined || obj.time !== undefined || obj.trace_id !== undefined || obj.span_id !== undefined || obj.trace_flags !== undefined;
}

/** A copy of `obj` with reserved keys renamed; the caller's object is never written to. */
function renameReserved(obj: Fields): Fields {
  const out: Fields = {};
  for (const key of Object.keys(obj)) {
    out[RESERVED_FIELDS.includes(key) ? `user_${key}` : key] = obj[key];
  }
  return out;
}

/**
 * pino `mixinMergeStrategy`: the user's fields, with reserved names renamed, plus the trace
 * fields. Allocates only when a span is active or a reserved name is used.
 */
export function protectedMerge(merge: object, mixin: object): Fields {
  if ((merge as Record<symbol, unknown>)[kOwnTraceFields] === true) return merge as Fields;
  const mergeObject = merge as Fields;
  const mixinObject = mixin as Fields;
  const user = hasReserved(mergeObject) ? renameReserved(mergeObject) : mergeObject;
  if (mixinObject === NO_TRACE) return user;
  // The mixin object is fresh for this line, so it can take the user's fields.
  return Object.assign(mixinObject, user);
}

const kLogging = Symbol('periscope.logging');

/** What stays attached to a logger periscope made: how to flush and close its destinations. */
export interface LoggerControl {
  readonly destination: BuiltDestination;
  readonly options: ResolvedLoggingOptions;
  /** The logger periscope made (children find it through the prototype chain). */
  readonly root: Logger;
}

/** The control block of a logger made by periscope (or of a child of one); undefined otherwise. */
export function loggerControl(logger: unknown): LoggerControl | undefined {
  if (typeof logger !== 'object' || logger === null) return undefined;
  return (logger as Record<symbol, LoggerControl | undefined>)[kLogging];
}

export interface LoggerIdentity {
  readonly service: string;
  readonly version: string;
}

/**
 * The Node request or response behind a Fastify request or reply (`.raw`), which Fastify's own
 * lines hand to the `req` and `res` serializers; pino's serializers read the Node objects
 * (a reply has no `headersSent`: its status came out `null`). Anything else as it is.
 */
function rawOf(value: unknown): unknown {
  const raw = typeof value === 'object' && value !== null ? (value as { raw?: unknown }).raw : undefined;
  return typeof raw === 'object' && raw !== null ? raw : value;
}

/** Makes the pino logger: JSON lines, ISO time, level names, trace IDs, redaction, destinations. */
export function buildLogger(options: ResolvedLoggingOptions, identity: LoggerIdentity, report: (error: unknown, where: string) => void, tap?: (line: string) => void): Logger {
  const destination = buildDestination(options.destinations, options, report, tap);
  const pinoOptions: LoggerOptions = {
    level: options.level,
    base: { service: identity.service, version: identity.version },
    timestamp: isoTime,
    messageKey: 'msg',
    mixin: traceMixin,
    mixinMergeStrategy: protectedMerge,
    redact: { paths: redactPaths(options.redact), censor: REDACTED },
    serializers: { err: pino.stdSerializers.err, req: (req: unknown) => pino.stdSerializers.req(rawOf(req) as IncomingMessage), res: (res: unknown) => pino.stdSerializers.res(rawOf(res) as ServerResponse) },
    formatters: {
      ...(options.levelFormat === 'label' ? { level: (label: string) => ({ level: label }) } : {}),
    },
  };
  const logger = pino(pinoOptions, destination.stream);
  destination.bind({ notice: droppedNotice(logger, pinoOptions) });
  const control: LoggerControl = { destination, options, root: logger };
  Object.defineProperty(logger, kLogging, { value: control });
  return logger;
}

/** The message of the line written once a stalled destination takes lines again, after lines were dropped. */
export const LINES_DROPPED_MESSAGE = 'log lines dropped: the log destination did not take them and the buffer was full';

/**
 * The line that says how many lines a stalled destination lost, in the logger's own format
 * (a pino of the same options, made on first use, writing into a string); undefined when the
 * logger's level leaves warn lines out.
 */
function droppedNotice(logger: Logger, pinoOptions: LoggerOptions): (dropped: number) => string | undefined {
  let line: string | undefined;
  let noticeLogger: Logger | undefined;
  return (dropped) => {
    noticeLogger ??= pino(pinoOptions, { write: (s: string) => void (line = s) });
    noticeLogger.level = logger.level;
    line = undefined;
    noticeLogger.warn({ dropped_lines: dropped, reason: 'buffer_full' }, LINES_DROPPED_MESSAGE);
    return line;
  };
}

/**
 * A pino instance's symbol found by its description, on the instance or up its prototype
 * chain (a child is `Object.create(parent)`): this works with a Fastify app whose pino is
 * another installed copy, whose symbols are not ours.
 */
function pinoSymbol(logger: object, description: string): symbol | undefined {
  for (let o: object | null = logger; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const s of Object.getOwnPropertySymbols(o)) if (s.description === description) return s;
  }
  return undefined;
}

const formattersSym = Symbol.for('pino.formatters'); // global in pino, across copies

/** `{"level":"info"` for pino's level cache: what `formatters.level` makes for periscope. */
function labelLevel(label: string): { level: string } {
  return { level: label };
}

/**
 * Gives a pino logger periscope did not make (a Fastify app's own, from `logger: true` or
 * `logger: { ... }`) periscope's line schema in place, so that the app's lines and
 * periscope's read alike: ISO `time`, the level as a label (unless `logging.levelFormat` is
 * `'number'`), `service` and `version` instead of `pid` and `hostname` (other bindings stay),
 * the active span's trace fields, reserved names protected, and periscope's redaction when it
 * has none of its own. Its level, destination, serializers and own redaction stay the app's.
 * Children made afterwards inherit all of it.
 * Pino keeps these settings under symbols set at construction; they are found by
 * description. Returns false, changing nothing, for a logger that is not pino.
 */
export function restyleForeignLogger(logger: unknown, identity: LoggerIdentity, levelFormat: 'label' | 'number', redact: readonly string[] = []): boolean {
  if (typeof logger !== 'object' || logger === null) return false;
  const time = pinoSymbol(logger, 'pino.time');
  const timeSlice = pinoSymbol(logger, 'pino.timeSliceIndex');
  const levelCache = pinoSymbol(logger, 'pino.lsCache');
  const chindings = pinoSymbol(logger, 'pino.chindings');
  const mixin = pinoSymbol(logger, 'pino.mixin');
  const mergeStrategy = pinoSymbol(logger, 'pino.mixinMergeStrategy');
  const l = logger as Record<symbol, unknown> & { levels?: { labels?: Record<string, string> } };
  const labels = l.levels?.labels;
  if (time === undefined || timeSlice === undefined || levelCache === undefined || chindings === undefined || mixin === undefined || mergeStrategy === undefined || labels === undefined) {
    return false;
  }
  l[time] = isoTime;
  l[timeSlice] = isoTime().indexOf(':') + 1;
  if (levelFormat === 'label') {
    const cache: Record<string, string> = {};
    for (const num of Object.keys(labels)) cache[num] = JSON.stringify(labelLevel(labels[num]!)).slice(0, -1);
    l[levelCache] = cache;
    l[formattersSym] = { ...(l[formattersSym] as object | undefined), level: labelLevel };
  }
  const identityFields = `,"service":${JSON.stringify(identity.service)},"version":${JSON.stringify(identity.version)}`;
  const bound = typeof l[chindings] === 'string' ? (l[chindings] as string) : '';
  let rest = '';
  try {
    const fields = JSON.parse(`{${bound.slice(1)}}`) as Fields;
    for (const key of Object.keys(fields)) {
      if (key !== 'pid' && key !== 'hostname' && key !== 'service' && key !== 'version') rest += `,${JSON.stringify(key)}:${JSON.stringify(fields[key])}`;
    }
  } catch {
    rest = bound; // not plain JSON (a bindings formatter): keep it whole
  }
  l[chindings] = identityFields + rest;
  const own = l[mixin] as ((obj: object, level: number, logger: object) => object) | undefined;
  l[mixin] =
    typeof own === 'function'
      ? (obj: object, level: number, self: object): Fields => {
          // A fresh object either way: protectedMerge may write into what the mixin returns.
          return Object.assign({}, own(obj, level, self), traceMixin());
        }
      : traceMixin;
  l[mergeStrategy] = protectedMerge;
  redactUnlessRedacting(logger as Logger, redact);
  return true;
}

/**
 * A pino logger made without `redact` gets periscope's redaction (the credential headers and
 * `logging.redact`), as pino gives a child made with a `redact` option: its stringifiers are
 * taken from such a child, made once and thrown away. A logger with redaction of its own
 * keeps it.
 */
function redactUnlessRedacting(logger: Logger, extra: readonly string[]): void {
  const stringifiers = pinoSymbol(logger, 'pino.stringifiers');
  const stringify = pinoSymbol(logger, 'pino.stringify');
  const formatOpts = pinoSymbol(logger, 'pino.formatOpts');
  if (stringifiers === undefined || stringify === undefined || formatOpts === undefined) return;
  const l = logger as unknown as Record<symbol, unknown>;
  const own = l[stringifiers];
  if (typeof own !== 'object' || own === null || Object.keys(own).length > 0 || Object.getOwnPropertySymbols(own).length > 0) return;
  const redacting = logger.child({}, { redact: { paths: redactPaths(extra), censor: REDACTED } }) as unknown as Record<symbol, unknown>;
  l[stringifiers] = redacting[stringifiers];
  l[stringify] = redacting[stringify];
  l[formatOpts] = redacting[formatOpts];
}

/** `createLogger()`'s options: the `logging` options plus the service identity. */
export type CreateLoggerOptions = LoggingOptions & { serviceName?: string; version?: string };

// A record rather than a list, so that the compiler insists on every option and no other.
const CREATE_LOGGER_KEYS: Readonly<Record<keyof CreateLoggerOptions, true>> = {
  serviceName: true,
  version: true,
  level: true,
  destination: true,
  sync: true,
  onBackpressure: true,
  maxBufferBytes: true,
  redact: true,
  levelFormat: true,
  requests: true,
  requestId: true,
};

/**
 * Refuses what `createLogger(options)` cannot take, in its own name: anything but an object,
 * and an unknown key (a typo that would otherwise be ignored). The values are checked as
 * `logging`'s are.
 */
export function checkCreateLoggerOptions(options: unknown): asserts options is CreateLoggerOptions | undefined {
  if (options === undefined) return;
  const known = Object.keys(CREATE_LOGGER_KEYS);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw createError('PERISCOPE_ERR_INVALID_ARGUMENT', ['createLogger()', 'options', `an object with ${known.join(', ')} (each optional)`, describeValue(options)]);
  }
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(CREATE_LOGGER_KEYS, key)) throw createError('PERISCOPE_ERR_UNKNOWN_OPTION', [`createLogger().${key}`, known.join(', ')], `createLogger().${key}`);
  }
}
