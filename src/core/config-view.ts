import { isCredentialKey, MASK, sanitizeText } from './sanitize.js';

/** Where an option's effective value came from. */
export type OptionSource = 'code' | 'env' | 'file' | 'default';

export interface OptionView {
  readonly value: unknown;
  readonly source: OptionSource;
  /** The environment variable, for `env` and `file`. */
  readonly variable?: string;
}

/** Segments under which every value is a credential (an `Authorization` header, basic-auth pairs). */
const CREDENTIAL_CONTAINERS = new Set(['auth', 'headers']);

function isPlain(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A leaf as `/debug/config` shows it: strings sanitized (credentials in URLs masked), objects by their class. */
function shown(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'string') return sanitizeText(value, 512);
  if (typeof value === 'function') return '[function]';
  if (Array.isArray(value)) return value.map(shown);
  if (typeof value === 'object' && value !== null) return `[${(value as object).constructor?.name ?? 'object'}]`;
  return value;
}

function at(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * periscope's effective configuration, one entry per option (dotted path) with its value and
 * source: `code` when the caller's options set it, `env` or `file` when a variable fed it
 * (`optionEnv` maps an option path, and everything below it, to the variables that feed it),
 * else `default`. Credentials (by key, or anything under `auth` or `headers`) show as `******`,
 * after Spring Boot Actuator's `/env`; strings go through the sanitizer, so a URL's password is
 * masked too.
 */
export function describeOptions(
  resolved: object,
  user: unknown,
  taken: ReadonlyMap<string, 'env' | 'file'>,
  optionEnv: Readonly<Record<string, readonly string[]>>,
): Record<string, OptionView> {
  const out: Record<string, OptionView> = {};
  const source = (path: readonly string[]): Pick<OptionView, 'source' | 'variable'> => {
    if (at(user, path) !== undefined) return { source: 'code' };
    for (let n = path.length; n > 0; n--) {
      // Code that set a containing object (`tracing: false`) decides what is below it.
      for (const variable of optionEnv[path.slice(0, n).join('.')] ?? []) {
        const from = taken.get(variable);
        if (from !== undefined) return { source: from, variable: from === 'file' ? `${variable}_FILE` : variable };
      }
    }
    return { source: 'default' };
  };
  const walk = (value: unknown, path: string[], secret: boolean): void => {
    if (isPlain(value) && Object.keys(value).length > 0) {
      for (const [key, v] of Object.entries(value)) walk(v, [...path, key], secret || CREDENTIAL_CONTAINERS.has(key) || isCredentialKey(key));
      return;
    }
    const masked = secret && value !== undefined && !(isPlain(value) && Object.keys(value).length === 0);
    out[path.join('.')] = { value: masked ? MASK : shown(value), ...source(path) };
  };
  for (const [key, value] of Object.entries(resolved)) walk(value, [key], isCredentialKey(key));
  return out;
}
