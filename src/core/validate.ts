import { createError, describeValue } from '../errors.js';
import type { PeriscopeError } from '../errors.js';
import type { EndpointAuth } from './index.js';
import type { EnvReader, EnvVar } from './env.js';

// The checks every concern's options.ts shares. Each throws PERISCOPE_ERR_INVALID_OPTION naming
// the option, the value and what is allowed; each returns the fallback for `undefined`.

/** The error for an invalid option. */
export function invalid(option: string, value: unknown, allowed: string): PeriscopeError {
  return createError('PERISCOPE_ERR_INVALID_OPTION', [option, describeValue(value), allowed], option);
}

/** Throws PERISCOPE_ERR_UNKNOWN_OPTION for the first key of `obj` not in `known`, listing the known ones. */
export function checkKeys(obj: object, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      const option = prefix + key;
      throw createError('PERISCOPE_ERR_UNKNOWN_OPTION', [option, known.map((k) => prefix + k).join(', ')], option);
    }
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A concern's `true | false | { ... }` option: `false` stays false, `undefined` and `true` are
 * `{}`, an object is checked against its known keys.
 */
export function concernObject(value: unknown, option: string, keys: readonly string[]): Record<string, unknown> | false {
  if (value === false) return false;
  if (value !== undefined && value !== true && !isPlainObject(value)) throw invalid(option, value, `true, false or an object of ${option} options`);
  const o: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(o, keys, `${option}.`);
  return o;
}

export function optString(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw invalid(option, value, 'a non-empty string');
  return value;
}

export function optFunction<T>(value: unknown, option: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalid(option, value, 'a function');
  return value as T;
}

export function checkBoolean(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(option, value, 'true or false');
  return value;
}

/** An integer in [min, max]; `unit` is added to the message (`'milliseconds'`). */
export function checkInt(value: unknown, option: string, min: number, max: number, fallback: number, unit?: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(option, value, `an integer from ${min} to ${max}${unit === undefined ? '' : ` (${unit})`}`);
  }
  return value;
}

/** An endpoint path: starts with `/`, no query, no whitespace. */
export function checkPath(value: unknown, option: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\/[\x21-\x7e]*$/.test(value) || value.includes('?') || value.includes('#')) {
    throw invalid(option, value, 'a path starting with "/" without query, fragment or spaces');
  }
  return value;
}

export function checkPort(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw invalid(option, value, 'an integer from 0 to 65535');
  }
  return value;
}

/** True for an absolute http:// or https:// URL. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** Endpoint credentials: `{ bearerToken }` or `{ username, password }`, visible ASCII (no spaces). */
export function checkAuth(value: unknown, option: string): EndpointAuth | undefined {
  if (value === undefined) return undefined;
  const allowed = '{ bearerToken } or { username, password } with non-empty visible-ASCII strings (username without ":")';
  // A string here is most likely the token itself (`auth: process.env.TOKEN`): never echo it.
  if (!isPlainObject(value)) throw invalid(option, typeof value === 'string' ? '[credentials hidden]' : value, allowed);
  const keys = Object.keys(value).sort().join(',');
  const ok = (v: unknown) => typeof v === 'string' && VISIBLE_ASCII.test(v);
  if (keys === 'bearerToken' && ok(value.bearerToken)) return Object.freeze({ bearerToken: value.bearerToken as string });
  if (keys === 'password,username' && ok(value.username) && !(value.username as string).includes(':') && ok(value.password)) {
    return Object.freeze({ username: value.username as string, password: value.password as string });
  }
  // Never echo a secret back in the error message.
  throw invalid(option, '[credentials hidden]', allowed);
}

/** One of `allowed`, or undefined for `undefined`. */
export function oneOf<T extends string>(value: unknown, option: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    const quoted = allowed.map((a) => `'${a}'`);
    throw invalid(option, value, `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`);
  }
  return value as T;
}

/** A plain object whose values all pass `ok` (a copy), or `{}` for `undefined`. */
export function checkRecord<T>(value: unknown, option: string, ok: (v: unknown) => boolean, allowed: string): Record<string, T> {
  if (value === undefined) return {};
  if (!isPlainObject(value) || !Object.values(value).every(ok)) throw invalid(option, value, allowed);
  return { ...(value as Record<string, T>) };
}

/**
 * An OTLP/HTTP URL for one signal: a base URL gets `/v1/<signal>` appended, a URL that
 * already ends in it is used as is (the rule of `OTEL_EXPORTER_OTLP_ENDPOINT`).
 */
export function otlpSignalUrl(base: string, signal: 'traces' | 'metrics'): string {
  if (new RegExp(`/v1/${signal}/?$`).test(base)) return base;
  return base.endsWith('/') ? `${base}v1/${signal}` : `${base}/v1/${signal}`;
}

/**
 * An endpoint's credentials: the option when given (checked by {@link checkAuth}), else from
 * `PERISCOPE_<family>_TOKEN`, or `_USERNAME` with `_PASSWORD` (each secret also as `_FILE`).
 * A credential from the environment that is not valid throws, never echoing it: ignoring it
 * would leave the endpoint open.
 */
export function authOption(value: unknown, option: string, read: EnvReader, family: 'METRICS' | 'HEALTH' | 'DIAGNOSTICS'): EndpointAuth | undefined {
  if (value !== undefined) return checkAuth(value, option);
  const v = (suffix: string) => `PERISCOPE_${family}_${suffix}` as EnvVar;
  const token = read.secret(v('TOKEN'));
  const password = read.secret(v('PASSWORD'));
  const username = read.string(v('USERNAME'));
  if (token !== undefined && (password !== undefined || username !== undefined)) {
    throw invalid(option, '[credentials hidden]', `one of ${v('TOKEN')} or ${v('USERNAME')} with ${v('PASSWORD')}, not both`);
  }
  if (token !== undefined) return checkAuth({ bearerToken: token }, `${option} (from ${v('TOKEN')})`);
  if (password === undefined && username === undefined) return undefined;
  return checkAuth({ username, password }, `${option} (from ${v('USERNAME')} and ${v('PASSWORD')})`);
}
