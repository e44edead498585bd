import type { EndpointAuth } from '../core/index.js';
import type { EnvReader } from '../core/env.js';
import { createError } from '../errors.js';
import { authOption, checkInt, checkKeys, checkPath, checkPort, invalid, isPlainObject, optString } from '../core/validate.js';

/**
 * Options of the diagnostics endpoints (`/debug/pprof/profile`, `/debug/pprof/heap`,
 * `/debug/heapsnapshot`, `/debug/resources`) and the event-loop stall watchdog. Off unless
 * given; on, they need `auth`, or a management `port` bound to a loopback `host`.
 */
export interface DiagnosticsOptions {
  /** Prefix of every diagnostics path. Default `'/debug'`. */
  prefix?: string;
  /**
   * Serve the endpoints on a management server on this port instead of on the app (0 picks a
   * free port). Without `auth`, `host` must be a loopback address. Default: on the app (then `auth` is required).
   */
  port?: number;
  /** Interface the management server binds to, with `port`. Default: all interfaces (then `auth` is required). */
  host?: string;
  /** Credentials every diagnostics request must carry: `{ bearerToken }` or `{ username, password }`. Default: none. */
  auth?: EndpointAuth;
  /**
   * Report an event-loop stall longer than this many milliseconds (a watchdog thread captures
   * the blocked JavaScript stack); `false` turns the watchdog off. Default `500`.
   */
  stallMs?: number | false;
}

export interface ResolvedDiagnosticsOptions {
  readonly prefix: string;
  readonly port: number | undefined;
  readonly host: string | undefined;
  readonly auth: EndpointAuth | undefined;
  readonly stallMs: number | false;
}

/** Every default of the diagnostics options, written once (the concern itself is off by default). */
export const DIAGNOSTICS_DEFAULTS = Object.freeze({ prefix: '/debug', stallMs: 500 as number | false });

const KEYS = ['prefix', 'port', 'host', 'auth', 'stallMs'];

/** Loopback interfaces: only processes on this machine reach them. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::ffff:127.0.0.1';
}

/**
 * `diagnostics`: `undefined` and `false` are off. Anything on must be guarded: with `auth`, or on
 * a management port bound to a loopback host; otherwise `PERISCOPE_ERR_UNGUARDED_DIAGNOSTICS`.
 */
export function resolveDiagnostics(value: unknown, read: EnvReader): ResolvedDiagnosticsOptions | false {
  if (value === undefined || value === false) return false;
  if (value !== true && !isPlainObject(value)) throw invalid('diagnostics', value, 'false or an object of diagnostics options ({ auth } or { port, host: "127.0.0.1" })');
  const d: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(d, KEYS, 'diagnostics.');
  const port = checkPort(d.port, 'diagnostics.port');
  const host = optString(d.host, 'diagnostics.host');
  const auth = authOption(d.auth, 'diagnostics.auth', read, 'DIAGNOSTICS');
  if (host !== undefined && port === undefined) throw invalid('diagnostics.host', host, 'a host only together with diagnostics.port');
  if (auth === undefined) {
    if (port === undefined) {
      throw createError('PERISCOPE_ERR_UNGUARDED_DIAGNOSTICS', ['diagnostics', 'on the app port without diagnostics.auth'], 'diagnostics.auth');
    }
    if (host === undefined || !isLoopback(host)) {
      throw createError('PERISCOPE_ERR_UNGUARDED_DIAGNOSTICS', ['diagnostics.host', `on ${host === undefined ? 'all interfaces' : `host "${host}"`} without diagnostics.auth`], 'diagnostics.host');
    }
  }
  let stallMs: number | false = DIAGNOSTICS_DEFAULTS.stallMs;
  if (d.stallMs === false) stallMs = false;
  else if (d.stallMs !== undefined) stallMs = checkInt(d.stallMs, 'diagnostics.stallMs', 50, 600_000, 500, 'milliseconds, or false');
  const prefix = checkPath(d.prefix, 'diagnostics.prefix', DIAGNOSTICS_DEFAULTS.prefix);
  return Object.freeze({ prefix: prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, port, host, auth, stallMs });
}
