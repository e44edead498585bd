import type { Env, EnvWarning } from '../core/env.js';
import { emitEnvWarning, EnvReader, readEnv, resolveIdentity } from '../core/env.js';
import type { Identity } from '../core/env.js';
import { checkBoolean, checkInt, checkKeys, concernObject, invalid, isPlainObject, optString } from '../core/validate.js';

/** A pino level name. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** Anything pino can write to: an object with `write(line)`. */
export interface LogStream {
  write(line: string): unknown;
}

/** A log file, optionally rotated by size and/or time through the `pino-roll` transport. */
export interface LogFileDestination {
  /** File path; missing folders are created. */
  path: string;
  /** Rotate the file. Default: no rotation. */
  rotate?: {
    /** Rotate once the file reaches this size: a number of bytes, or a string with unit `k`, `m` or `g` (`'10m'`). Default: no size limit. */
    size?: number | string;
    /** Rotate `'daily'`, `'hourly'` or every this many milliseconds. Default: no time limit. */
    frequency?: 'daily' | 'hourly' | number;
    /** Rotated files kept besides the active one. Default: all kept. */
    keep?: number;
  };
}

/** `'stdout'`, `'stderr'`, a file path, a {@link LogFileDestination}, or a stream. */
export type LogDestination = 'stdout' | 'stderr' | string | LogFileDestination | LogStream;

/** Fields of the request log line; each can be left out with `logging.requests.fields`. */
export type RequestLogField =
  | 'request_id'
  | 'method'
  | 'route'
  | 'path'
  | 'status_code'
  | 'duration_ms'
  | 'bytes'
  | 'client_address'
  | 'user_agent'
  | 'headers';
export const REQUEST_LOG_FIELDS: readonly RequestLogField[] = Object.freeze([
  'request_id', 'method', 'route', 'path', 'status_code', 'duration_ms', 'bytes', 'client_address', 'user_agent', 'headers',
]);
/** Every field but `headers` (request headers are large; redacted when included). */
export const DEFAULT_REQUEST_LOG_FIELDS: readonly RequestLogField[] = Object.freeze(REQUEST_LOG_FIELDS.filter((f) => f !== 'headers'));

/** The request log line: one per completed request. */
export interface RequestLogOptions {
  /** Level per outcome; `'silent'` leaves those requests out. Default `{ success: 'info', clientError: 'warn', serverError: 'error' }`. */
  levels?: { success?: LogLevel; clientError?: LogLevel; serverError?: LogLevel };
  /** Fields written on the line. Default: all of {@link RequestLogField} but `headers`. */
  fields?: readonly RequestLogField[];
}

/** Options for the logging subsystem. */
export interface LoggingOptions {
  /** Lowest level written. Default: `LOG_LEVEL`, else `'info'`. */
  level?: LogLevel;
  /** Where lines go; an array writes to each. Default `'stdout'`. */
  destination?: LogDestination | readonly LogDestination[];
  /**
   * Write each line before the logging call returns. Default `false`: the lines of one
   * event-loop turn are written together at the end of the turn (and on `obs.shutdown()` and
   * process exit).
   */
  sync?: boolean;
  /**
   * What to do when stdout, stderr or a log file does not take a write (a pipe whose reader
   * stopped reading): `'drop'` holds up to `maxBufferBytes`, then drops the newest lines,
   * counted in `periscope_log_lines_dropped_total{reason}`, and never blocks the event loop;
   * `'block'` waits for the reader, as pino's synchronous destination does. Default `'drop'`.
   */
  onBackpressure?: 'drop' | 'block';
  /** Most bytes held per destination while it takes nothing, with `onBackpressure: 'drop'`. Default `4194304` (4 MiB). */
  maxBufferBytes?: number;
  /** More pino redact paths (`'body.password'`, `'*.token'`), replaced by `"[REDACTED]"`. Default: none besides the built-in header paths. */
  redact?: readonly string[];
  /** `'label'` writes `"level":"info"`, `'number'` writes `"level":30`. Default `'label'`. */
  levelFormat?: 'label' | 'number';
  /** The request log line; `false` turns it off. Default `true`. */
  requests?: boolean | RequestLogOptions;
  /**
   * Request IDs: taken from this header when sane (at most `maxLength` visible ASCII characters),
   * else the request's trace ID, else a random UUID; echoed in the response header. `false` turns
   * request IDs off. Default `{ header: 'x-request-id', maxLength: 128 }`.
   */
  requestId?: boolean | { header?: string; maxLength?: number };
}

export interface ResolvedLoggingOptions {
  readonly level: LogLevel;
  readonly destinations: readonly LogDestination[];
  readonly sync: boolean;
  readonly onBackpressure: 'drop' | 'block';
  readonly maxBufferBytes: number;
  readonly redact: readonly string[];
  readonly levelFormat: 'label' | 'number';
  readonly requests: { readonly levels: { readonly success: LogLevel; readonly clientError: LogLevel; readonly serverError: LogLevel }; readonly fields: readonly RequestLogField[] } | false;
  readonly requestId: { readonly header: string; readonly maxLength: number } | false;
}


const KEYS = ['level', 'destination', 'sync', 'onBackpressure', 'maxBufferBytes', 'redact', 'levelFormat', 'requests', 'requestId'];
const REQUEST_LOG_KEYS = ['levels', 'fields'];
const LEVEL_KEYS = ['success', 'clientError', 'serverError'];
const REQUEST_ID_KEYS = ['header', 'maxLength'];
const LEVELS_ALLOWED = LOG_LEVELS.map((l) => `"${l}"`).join(', ');

/** The request line's levels when `logging.requests.levels` leaves them out. */
export const DEFAULT_REQUEST_LOG_LEVELS = Object.freeze({ success: 'info', clientError: 'warn', serverError: 'error' } as const);
/** `logging.maxBufferBytes` when not given: 4 MiB. */
export const DEFAULT_MAX_BUFFER_BYTES = 4 * 1024 * 1024;
/** The largest `logging.maxBufferBytes`: 1 GiB. */
const MAX_BUFFER_BYTES_LIMIT = 1024 * 1024 * 1024;

/** `logging.requestId` when not given. */
export const DEFAULT_REQUEST_ID = Object.freeze({ header: 'x-request-id', maxLength: 128 });

function checkLevel(value: unknown, option: string, fallback: LogLevel): LogLevel {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(LOG_LEVELS as readonly string[]).includes(value)) throw invalid(option, value, `one of ${LEVELS_ALLOWED}`);
  return value as LogLevel;
}

function checkRotate(value: unknown, option: string): LogFileDestination['rotate'] {
  if (!isPlainObject(value)) throw invalid(option, value, 'an object with size, frequency and/or keep');
  checkKeys(value, ['size', 'frequency', 'keep'], `${option}.`);
  const { size, frequency, keep } = value;
  if (size !== undefined && !((typeof size === 'number' && Number.isInteger(size) && size > 0) || (typeof size === 'string' && /^[1-9][0-9]*[kmg]?$/i.test(size)))) {
    throw invalid(`${option}.size`, size, 'a positive integer number of bytes or a string such as "512k", "10m" or "1g"');
  }
  if (frequency !== undefined && frequency !== 'daily' && frequency !== 'hourly' && !(typeof frequency === 'number' && Number.isInteger(frequency) && frequency >= 1000)) {
    throw invalid(`${option}.frequency`, frequency, '"daily", "hourly" or a whole number of milliseconds of at least 1000');
  }
  if (size === undefined && frequency === undefined) throw invalid(option, value, 'an object with size and/or frequency');
  if (keep !== undefined && (typeof keep !== 'number' || !Number.isInteger(keep) || keep < 1)) throw invalid(`${option}.keep`, keep, 'a positive integer');
  return Object.freeze({ size: size as number | string | undefined, frequency: frequency as 'daily' | 'hourly' | number | undefined, keep: keep as number | undefined });
}

function checkDestination(value: unknown, option: string): LogDestination {
  if (value === 'stdout' || value === 'stderr') return value;
  if (typeof value === 'string') {
    if (value.trim() === '') throw invalid(option, value, '"stdout", "stderr", a file path, { path, rotate } or a stream');
    return value;
  }
  if (typeof value === 'object' && value !== null && typeof (value as LogStream).write === 'function') return value as LogStream;
  if (isPlainObject(value)) {
    checkKeys(value, ['path', 'rotate'], `${option}.`);
    const path = optString(value.path, `${option}.path`);
    if (path === undefined) throw invalid(`${option}.path`, value.path, 'a file path');
    if (value.rotate === undefined) return Object.freeze({ path });
    return Object.freeze({ path, rotate: checkRotate(value.rotate, `${option}.rotate`) });
  }
  throw invalid(option, value, '"stdout", "stderr", a file path, { path, rotate } or a stream with a write method');
}

function checkDestinations(value: unknown): readonly LogDestination[] {
  const raw = value === undefined ? ['stdout'] : Array.isArray(value) ? (value as unknown[]) : [value];
  if (raw.length === 0) throw invalid('logging.destination', value, 'at least one destination');
  return Object.freeze(raw.map((d, i) => checkDestination(d, Array.isArray(value) ? `logging.destination[${i}]` : 'logging.destination')));
}

function resolveRequestLog(value: unknown): ResolvedLoggingOptions['requests'] {
  if (value === false) return false;
  if (value !== undefined && value !== true && !isPlainObject(value)) throw invalid('logging.requests', value, 'true, false or an object with levels and fields');
  const r: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(r, REQUEST_LOG_KEYS, 'logging.requests.');
  if (r.levels !== undefined && !isPlainObject(r.levels)) throw invalid('logging.requests.levels', r.levels, 'an object with success, clientError and/or serverError');
  const levels: Record<string, unknown> = isPlainObject(r.levels) ? r.levels : {};
  checkKeys(levels, LEVEL_KEYS, 'logging.requests.levels.');
  let fields = DEFAULT_REQUEST_LOG_FIELDS;
  if (r.fields !== undefined) {
    if (!Array.isArray(r.fields) || !r.fields.every((f) => (REQUEST_LOG_FIELDS as readonly unknown[]).includes(f))) {
      throw invalid('logging.requests.fields', r.fields, `an array of ${REQUEST_LOG_FIELDS.map((f) => `"${f}"`).join(', ')}`);
    }
    fields = Object.freeze([...(r.fields as RequestLogField[])]);
  }
  const d = DEFAULT_REQUEST_LOG_LEVELS;
  return Object.freeze({
    levels: Object.freeze({
      success: checkLevel(levels.success, 'logging.requests.levels.success', d.success),
      clientError: checkLevel(levels.clientError, 'logging.requests.levels.clientError', d.clientError),
      serverError: checkLevel(levels.serverError, 'logging.requests.levels.serverError', d.serverError),
    }),
    fields,
  });
}

function resolveRequestId(value: unknown): ResolvedLoggingOptions['requestId'] {
  if (value === false) return false;
  if (value !== undefined && value !== true && !isPlainObject(value)) throw invalid('logging.requestId', value, 'true, false or an object with header and maxLength');
  const r: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(r, REQUEST_ID_KEYS, 'logging.requestId.');
  const header = r.header;
  if (header !== undefined && (typeof header !== 'string' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(header))) {
    throw invalid('logging.requestId.header', header, 'an HTTP header name such as "x-request-id"');
  }
  return Object.freeze({
    header: ((header as string | undefined) ?? DEFAULT_REQUEST_ID.header).toLowerCase(),
    maxLength: checkInt(r.maxLength, 'logging.requestId.maxLength', 1, 1024, DEFAULT_REQUEST_ID.maxLength),
  });
}

/**
 * `logging` over `LOG_LEVEL` and the defaults; `false` stays false. The option wins over
 * `LOG_LEVEL`, which is only read (and only warned about) when the option is absent; an
 * invalid `LOG_LEVEL` warns through `warn` and is ignored. `env` may be an {@link EnvReader}
 * shared with the other concerns, so each variable warns once.
 */
export function resolveLogging(value: unknown, env: Env | EnvReader = readEnv(), warn: (w: EnvWarning) => void = emitEnvWarning): ResolvedLoggingOptions | false {
  const l = concernObject(value, 'logging', KEYS);
  if (l === false) return false;
  const read = env instanceof EnvReader ? env : new EnvReader(env, warn);
  if (l.redact !== undefined && (!Array.isArray(l.redact) || !l.redact.every((p) => typeof p === 'string' && p !== ''))) {
    throw invalid('logging.redact', l.redact, 'an array of pino redact paths such as "body.password" or "*.token"');
  }
  if (l.levelFormat !== undefined && l.levelFormat !== 'label' && l.levelFormat !== 'number') throw invalid('logging.levelFormat', l.levelFormat, '"label" or "number"');
  if (l.onBackpressure !== undefined && l.onBackpressure !== 'drop' && l.onBackpressure !== 'block') throw invalid('logging.onBackpressure', l.onBackpressure, '"drop" or "block"');
  return Object.freeze({
    level: l.level !== undefined ? checkLevel(l.level, 'logging.level', 'info') : (read.oneOf('LOG_LEVEL', LOG_LEVELS) ?? 'info'),
    destinations: checkDestinations(l.destination),
    sync: checkBoolean(l.sync, 'logging.sync', false),
    onBackpressure: (l.onBackpressure as 'drop' | 'block' | undefined) ?? 'drop',
    maxBufferBytes: checkInt(l.maxBufferBytes, 'logging.maxBufferBytes', 0, MAX_BUFFER_BYTES_LIMIT, DEFAULT_MAX_BUFFER_BYTES, 'bytes'),
    redact: Object.freeze([...((l.redact as string[] | undefined) ?? [])]),
    levelFormat: (l.levelFormat as 'label' | 'number' | undefined) ?? 'label',
    requests: resolveRequestLog(l.requests),
    requestId: resolveRequestId(l.requestId),
  });
}

/** What `createLogger()` needs: the service identity and the logging options, resolved as `instrument()` does. */
export function resolveLoggerOptions(
  options: { serviceName?: unknown; version?: unknown; [key: string]: unknown },
  env: Env = readEnv(),
  warn: (w: EnvWarning) => void = emitEnvWarning,
): Identity & { logging: ResolvedLoggingOptions } {
  const { serviceName, version, ...logging } = options;
  const read = new EnvReader(env, warn);
  return { ...resolveIdentity({ serviceName, version }, read), logging: resolveLogging(logging, read) as ResolvedLoggingOptions };
}
