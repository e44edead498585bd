import type { EnvReader } from '../core/env.js';
import { createError } from '../errors.js';
import { checkBoolean, checkKeys, checkPort, invalid, isPlainObject } from '../core/validate.js';

/**
 * Options of the local developer console (`console`). Off unless `console: true` (or
 * `PERISCOPE_CONSOLE=1`); it serves on a listener of its own on 127.0.0.1, behind a
 * per-process random token.
 */
export interface ConsoleOptions {
  /** Port of the console's own listener on 127.0.0.1; 0 picks a free port. Default `0`. */
  port?: number;
  /**
   * Serve the console although `NODE_ENV` is `production` (it then refuses to start with
   * `PERISCOPE_ERR_CONSOLE_IN_PRODUCTION`). Default `false`.
   */
  allowProduction?: boolean;
  /**
   * More `Host` header names the console answers besides `127.0.0.1` and `localhost` (on its
   * port): for a tunnel or a container's port mapping. Any other `Host` gets 403 (DNS rebinding).
   * Default: none.
   */
  allowedHosts?: readonly string[];
}

export interface ResolvedConsoleOptions {
  readonly port: number;
  readonly allowProduction: boolean;
  readonly allowedHosts: readonly string[];
}

/**
 * The console's bounds and rhythm, written once. Whole traces are evicted oldest-first past
 * `maxTraces` or `maxSpans`; the last `pinnedErrors` error traces and the `pinnedSlowest`
 * slowest are kept apart from that eviction.
 */
export const CONSOLE_DEFAULTS = Object.freeze({
  port: 0,
  host: '127.0.0.1',
  maxTraces: 200,
  maxSpans: 5000,
  /** A trace's spans past this are dropped (and counted), so one runaway trace cannot take the buffer. */
  maxSpansPerTrace: 500,
  pinnedErrors: 50,
  pinnedSlowest: 50,
  maxLogLines: 2000,
  /** One RED point per route every `redIntervalMs`: 120 points are the last 10 minutes. */
  redPoints: 120,
  redIntervalMs: 5000,
  /** Routes the console keeps RED points for; more are counted, not kept. */
  maxRoutes: 200,
  /** Server-Sent Events: batching, heartbeat, replay ring, and each client's queue before it is told to `resync`. */
  batchMs: 250,
  heartbeatMs: 15_000,
  replayEvents: 512,
  replayBytes: 2 * 1024 * 1024,
  clientQueueBytes: 256 * 1024,
  maxClients: 16,
  /** How often health checks and breakers are read while a page is open. */
  healthIntervalMs: 2000,
  transitions: 50,
});

const KEYS = ['port', 'allowProduction', 'allowedHosts'];
const HOST_NAME = /^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$/;

function allowedHostsOf(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value) || !value.every((h) => typeof h === 'string' && HOST_NAME.test(h))) {
    throw invalid('console.allowedHosts', value, 'an array of host names without port ("dev.local", "[::1]")');
  }
  return Object.freeze(value.map((h: string) => h.toLowerCase()));
}

/**
 * `console`: `undefined` takes `PERISCOPE_CONSOLE` (`1`/`true` on, `0`/`false` off), `false` is
 * off whatever the environment says. Under `NODE_ENV=production` it refuses to start unless
 * `allowProduction`: from code with `PERISCOPE_ERR_CONSOLE_IN_PRODUCTION`; turned on by the
 * environment alone, it warns and stays off (a stray variable must not stop a service).
 */
export function resolveConsole(value: unknown, read: EnvReader): ResolvedConsoleOptions | false {
  if (value === false) return false;
  let fromEnv = false;
  if (value === undefined) {
    const flag = read.oneOf('PERISCOPE_CONSOLE', ['1', 'true', '0', 'false'], '1, true, 0 or false');
    if (flag !== '1' && flag !== 'true') return false;
    fromEnv = true;
  }
  if (value !== undefined && value !== true && !isPlainObject(value)) throw invalid('console', value, 'true, false or an object of console options');
  const o: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(o, KEYS, 'console.');
  const allowProduction = checkBoolean(o.allowProduction, 'console.allowProduction', false);
  const resolved = Object.freeze({
    port: checkPort(o.port, 'console.port') ?? CONSOLE_DEFAULTS.port,
    allowProduction,
    allowedHosts: allowedHostsOf(o.allowedHosts),
  });
  if (!allowProduction && read.string('NODE_ENV') === 'production') {
    if (fromEnv) {
      read.ignore('PERISCOPE_CONSOLE', read.string('PERISCOPE_CONSOLE') ?? '1', 'unset under NODE_ENV=production (set console: { allowProduction: true } in code to serve it there)');
      return false;
    }
    throw createError('PERISCOPE_ERR_CONSOLE_IN_PRODUCTION', [], 'console.allowProduction');
  }
  return resolved;
}
