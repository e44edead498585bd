import { STATUS_CODES } from 'node:http';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { QuantileSketch, RELATIVE_ACCURACY } from './sketch.js';
import { TopK } from './top-k.js';

/** pino's numeric levels. */
const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const ERROR_LEVELS = new Set(['error', 'fatal']);
/** Distinct routes kept; later ones are counted under {@link OTHER_ROUTES}. */
export const MAX_ROUTES = 1000;
export const OTHER_ROUTES = '(other routes)';
/** Error messages tracked by the space-saving counters. */
export const MAX_MESSAGES = 1000;
/** Error messages are cut to this many characters, so one huge message cannot hold memory. */
export const MAX_MESSAGE_LENGTH = 200;

export interface RouteSummary {
  route: string;
  count: number;
  /** Requests answered 5xx. */
  errors: number;
  /** errors / count. */
  error_rate: number;
  p50_ms: number | undefined;
  p95_ms: number | undefined;
  p99_ms: number | undefined;
}

export interface Summary {
  /** Non-empty lines read. */
  lines: number;
  /** Lines that were JSON objects. */
  json_lines: number;
  /** Lines that were not JSON objects (skipped). */
  skipped: number;
  /** Lines per level name. */
  levels: Record<string, number>;
  /**
   * Most frequent messages of error and fatal lines: the logged error's own message
   * (`err.message`), else the line's `msg`; a request line without an error counts as its
   * status (`HTTP 503 Service Unavailable`), never as its message. `overcount` is 0 unless
   * more than 1,000 distinct messages were seen.
   */
  top_errors: { message: string; count: number; overcount: number }[];
  /** Request lines per UTC hour (`2024-05-01T10`), in order. */
  requests_per_hour: { hour: string; count: number }[];
  /** Per method and route, busiest first. */
  routes: RouteSummary[];
  /** How the percentiles were computed and how far from exact they may be. */
  percentiles: string;
}

class RouteStats {
  count = 0;
  errors = 0;
  readonly durations = new QuantileSketch();
}

type Obj = Record<string, unknown>;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

function levelName(v: unknown): string {
  if (typeof v === 'string') return v.toLowerCase();
  if (typeof v === 'number') return LEVEL_NAMES[v] ?? String(v);
  return 'unknown';
}

function hourOf(time: unknown): string | undefined {
  let date: Date | undefined;
  if (typeof time === 'number') date = new Date(time);
  else if (typeof time === 'string') date = new Date(time);
  if (date === undefined || Number.isNaN(date.getTime())) return undefined;
  return date.toISOString().slice(0, 13);
}

function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Folds JSON log lines into a summary in constant memory: counters, a bounded map of routes
 * each with a fixed-size quantile sketch, space-saving counters for error messages, and one
 * counter per hour. Reads periscope's request lines (`route`, `status_code`, `duration_ms`)
 * and pino-http / Fastify ones (`req.url`, `res.statusCode`, `responseTime`).
 */
export class LogSummary {
  #lines = 0;
  #json = 0;
  readonly #levels = new Map<string, number>();
  readonly #errors = new TopK(MAX_MESSAGES);
  readonly #hours = new Map<string, number>();
  readonly #routes = new Map<string, RouteStats>();

  addLine(line: string): void {
    if (line.trim() === '') return;
    this.#lines++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    const o = obj(parsed);
    if (o === undefined) return;
    this.#json++;
    const level = levelName(o.level);
    this.#levels.set(level, (this.#levels.get(level) ?? 0) + 1);
    const req = obj(o.req);
    const res = obj(o.res);
    const status = num(o.status_code) ?? num(res?.statusCode) ?? num(o.statusCode);
    const duration = num(o.duration_ms) ?? num(o.responseTime) ?? num(o.response_time);
    const requestLine = status !== undefined && duration !== undefined;
    if (ERROR_LEVELS.has(level)) {
      // A request line's msg ("request completed") says nothing about what went wrong: its
      // error's message does, and without one its status is the best there is.
      const message =
        str(obj(o.err)?.message) ??
        str(obj(o.error)?.message) ??
        (requestLine ? `HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() : (str(o.msg) ?? str(o.message) ?? '(no message)'));
      this.#errors.add(message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH)}…` : message);
    }
    if (!requestLine) return;
    const hour = hourOf(o.time);
    if (hour !== undefined) this.#hours.set(hour, (this.#hours.get(hour) ?? 0) + 1);
    const method = str(o.method) ?? str(req?.method);
    const url = str(o.path) ?? str(req?.url) ?? str(o.url);
    const route = str(o.route) ?? (url === undefined ? 'unknown' : pathOnly(url));
    let key = method === undefined ? route : `${method} ${route}`;
    let stats = this.#routes.get(key);
    if (stats === undefined) {
      if (this.#routes.size >= MAX_ROUTES) {
        key = OTHER_ROUTES;
        stats = this.#routes.get(key);
      }
      if (stats === undefined) {
        stats = new RouteStats();
        this.#routes.set(key, stats);
      }
    }
    stats.count++;
    if (status >= 500) stats.errors++;
    stats.durations.add(duration);
  }

  result(top = 10): Summary {
    const levels: Record<string, number> = {};
    const order = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
    const names = [...this.#levels.keys()].sort((a, b) => {
      const ia = order.indexOf(a);
      const ib = order.indexOf(b);
      return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib) || a.localeCompare(b);
    });
    for (const name of names) levels[name] = this.#levels.get(name)!;
    const round = (v: number | undefined) => (v === undefined ? undefined : Math.round(v * 1000) / 1000);
    return {
      lines: this.#lines,
      json_lines: this.#json,
      skipped: this.#lines - this.#json,
      levels,
      top_errors: this.#errors.top(top).map((e) => ({ message: e.key, count: e.count, overcount: e.overcount })),
      requests_per_hour: [...this.#hours].sort((a, b) => a[0].localeCompare(b[0])).map(([hour, count]) => ({ hour, count })),
      routes: [...this.#routes]
        .map(([route, s]) => ({
          route,
          count: s.count,
          errors: s.errors,
          error_rate: s.errors / s.count,
          p50_ms: round(s.durations.quantile(0.5)),
          p95_ms: round(s.durations.quantile(0.95)),
          p99_ms: round(s.durations.quantile(0.99)),
        }))
        .sort((a, b) => b.count - a.count || a.route.localeCompare(b.route)),
      percentiles: `nearest-rank, from log-scale buckets: within ${RELATIVE_ACCURACY * 100}% of the exact value`,
    };
  }
}

/** Reads a stream of JSON lines, one line in memory at a time. */
export async function summarize(input: Readable, top = 10): Promise<Summary> {
  const summary = new LogSummary();
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) summary.addLine(line);
  return summary.result(top);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

// C0 and C1 control characters, DEL, and the bidirectional overrides and isolates.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  switch (c) {
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default:
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  }
}

/**
 * Log content is untrusted: control characters are escaped so that it cannot drive the
 * terminal or reorder the line; everything else (quotes, backslashes, any script) is shown
 * as written, so a message reads as it does in the code that threw it.
 */
function safe(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

function ms(v: number | undefined): string {
  return v === undefined ? '-' : v.toFixed(3);
}

/** The summary as text for a terminal. */
export function formatSummary(s: Summary, source: string): string {
  const out: string[] = [];
  out.push(`periscope logs summary: ${source}`);
  out.push(`lines: ${s.lines} (JSON: ${s.json_lines}, skipped non-JSON: ${s.skipped})`);
  out.push('', 'lines by level:');
  const levels = Object.entries(s.levels);
  if (levels.length === 0) out.push('  (none)');
  for (const [name, count] of levels) out.push(`  ${pad(name, 8)}${lpad(String(count), 10)}`);
  out.push('', 'top error messages:');
  if (s.top_errors.length === 0) out.push('  (none)');
  for (const e of s.top_errors) out.push(`  ${lpad(String(e.count), 8)}${e.overcount > 0 ? ` (at most ${e.overcount} too many)` : ''}  ${safe(e.message)}`);
  out.push('', 'requests per hour (UTC):');
  if (s.requests_per_hour.length === 0) out.push('  (none)');
  for (const h of s.requests_per_hour) out.push(`  ${h.hour}:00Z${lpad(String(h.count), 10)}`);
  out.push('', 'per route:');
  if (s.routes.length === 0) {
    out.push('  (no request lines)');
  } else {
    const width = Math.max(5, ...s.routes.map((r) => safe(r.route).length));
    out.push(`  ${pad('route', width)}  ${lpad('count', 8)}  ${lpad('5xx', 6)}  ${lpad('error %', 7)}  ${lpad('p50 ms', 10)}  ${lpad('p95 ms', 10)}  ${lpad('p99 ms', 10)}`);
    for (const r of s.routes) {
      out.push(
        `  ${pad(safe(r.route), width)}  ${lpad(String(r.count), 8)}  ${lpad(String(r.errors), 6)}  ${lpad((r.error_rate * 100).toFixed(2), 7)}  ${lpad(ms(r.p50_ms), 10)}  ${lpad(ms(r.p95_ms), 10)}  ${lpad(ms(r.p99_ms), 10)}`,
      );
    }
    out.push(`  (percentiles: ${s.percentiles})`);
  }
  return `${out.join('\n')}\n`;
}
