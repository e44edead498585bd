import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { createError } from '../errors.js';
import { sanitizeText } from './sanitize.js';
import { isHttpUrl, optString } from './validate.js';

/** The credential variables of one endpoint family: a bearer token, or a basic-auth user and password. */
function CREDENTIAL_VARS<P extends string>(p: P) {
  return [
    `PERISCOPE_${p}_TOKEN`,
    `PERISCOPE_${p}_TOKEN_FILE`,
    `PERISCOPE_${p}_USERNAME`,
    `PERISCOPE_${p}_PASSWORD`,
    `PERISCOPE_${p}_PASSWORD_FILE`,
  ] as const;
}

/**
 * Every environment variable periscope reads. `readEnv()` copies exactly these, so this list
 * is the one place to look (and the README's table and the env tests are checked against it).
 */
export const ENV_VARS = [
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_SDK_DISABLED',
  'OTEL_TRACES_EXPORTER',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
  'OTEL_EXPORTER_OTLP_COMPRESSION',
  'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_BSP_EXPORT_TIMEOUT',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  'OTEL_PROPAGATORS',
  'OTEL_METRICS_EXPORTER',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
  'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
  'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT',
  'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION',
  'OTEL_METRIC_EXPORT_INTERVAL',
  'OTEL_METRIC_EXPORT_TIMEOUT',
  'LOG_LEVEL',
  'GIT_COMMIT',
  'SOURCE_COMMIT',
  'COMMIT_SHA',
  'KUBERNETES_SERVICE_HOST',
  // PM2 cluster mode's instance number: a cluster worker's slot (`worker` label, fallback port).
  'NODE_APP_INSTANCE',
  // The developer console: turned on by PERISCOPE_CONSOLE, refused under NODE_ENV=production.
  'PERISCOPE_CONSOLE',
  'NODE_ENV',
  // Endpoint credentials; each *_TOKEN and *_PASSWORD may instead name a file (`*_FILE`), read once.
  ...CREDENTIAL_VARS('METRICS'),
  ...CREDENTIAL_VARS('HEALTH'),
  ...CREDENTIAL_VARS('DIAGNOSTICS'),
] as const;

export type EnvVar = (typeof ENV_VARS)[number];

/**
 * Length bounds of environment values, so that a runaway value (100 KB in a service name) is
 * neither carried into every series and span nor echoed whole. The OpenTelemetry resource SDK
 * specification bounds `OTEL_RESOURCE_ATTRIBUTES` (and the same key-value format of the
 * `*_HEADERS`) to 8192 characters and each resource attribute value to 255; an endpoint past
 * 8000 characters (the URL length HTTP recommends every party accept, RFC 9110) is no endpoint.
 */
export const ENV_LIMITS = Object.freeze({
  /** `OTEL_EXPORTER_OTLP_*ENDPOINT`: longer is ignored. */
  endpoint: 8000,
  /** `OTEL_RESOURCE_ATTRIBUTES` and `*_HEADERS`, whole: longer is ignored. */
  keyValues: 8192,
  /** Each `OTEL_RESOURCE_ATTRIBUTES` value: a longer one makes the list ignored (the spec discards a list with any error). */
  resourceValue: 255,
  /** Free text (`OTEL_SERVICE_NAME`, the commit variables): cut to this length, with a warning. */
  text: 255,
  /** Bytes of a value echoed in a warning (sanitized: credentials masked, control characters escaped). */
  echo: 128,
});

/** The variables periscope reads, trimmed; blank ones are absent. Read once per `instrument()` call. */
export type Env = Readonly<Partial<Record<EnvVar, string>>>;

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const env: Partial<Record<EnvVar, string>> = {};
  for (const name of ENV_VARS) {
    const v = source[name]?.trim();
    if (v !== undefined && v !== '') env[name] = v;
  }
  return Object.freeze(env);
}

/** An environment value periscope ignored because it is invalid or out of range. */
export interface EnvWarning {
  /** The variable, such as `OTEL_TRACES_SAMPLER`. */
  readonly variable: string;
  /** The value as set, sanitized and at most 128 bytes (header values are hidden). */
  readonly value: string;
  /** What the variable allows. */
  readonly allowed: string;
  /** One line naming all three, for a log or a process warning. */
  readonly message: string;
}

const emitted = new Set<string>();

function echo(value: string): string {
  return sanitizeText(value, ENV_LIMITS.echo);
}

/**
 * The default receiver of {@link EnvWarning}s: a process warning with code
 * `PERISCOPE_ENV_IGNORED`, once per variable and value in the process (two `instrument()`
 * calls, or `createLogger()` and `instrument()`, read the same environment).
 */
export function emitEnvWarning(warning: EnvWarning): void {
  const key = `${warning.variable}=${warning.value}`;
  if (emitted.has(key)) return;
  emitted.add(key);
  process.emitWarning(warning.message, { code: 'PERISCOPE_ENV_IGNORED' });
}

/**
 * Typed getters over an {@link Env}. As the OpenTelemetry specification asks, an invalid or
 * out-of-range value is reported once, through `warn`, and then treated as unset.
 */
export class EnvReader {
  readonly #env: Env;
  readonly #warn: (w: EnvWarning) => void;
  readonly #warned = new Set<string>();
  /** Each variable read and taken, and whether its value came from the variable or from the file it names. */
  readonly #taken = new Map<string, 'env' | 'file'>();

  constructor(env: Env, warn: (w: EnvWarning) => void) {
    this.#env = new Proxy(env, {
      // Every getter reads through here: a value read is taken unless ignore() says otherwise.
      get: (target, name: string) => {
        const v = target[name as EnvVar];
        if (v !== undefined && !this.#taken.has(name)) this.#taken.set(name, 'env');
        return v;
      },
    });
    this.#warn = warn;
  }

  /** The variables whose values were taken (not ignored), with where each came from: for `/debug/config`. */
  taken(): ReadonlyMap<string, 'env' | 'file'> {
    return this.#taken;
  }

  /**
   * A credential: `name` (e.g. `PERISCOPE_METRICS_TOKEN`), or the content of the file that
   * `name_FILE` names (Docker and Kubernetes secrets), read now, trailing newlines trimmed.
   * Both set, an unreadable file or an empty one throw `PERISCOPE_ERR_SECRET_FILE` naming the
   * variable; the content is never shown.
   */
  secret(name: EnvVar): string | undefined {
    const fileVar = `${name}_FILE` as EnvVar;
    const direct = this.#env[name];
    const path = this.#env[fileVar];
    if (path === undefined) return direct;
    this.#taken.delete(fileVar);
    if (direct !== undefined) throw createError('PERISCOPE_ERR_SECRET_FILE', [fileVar, `${name} is set too; set one of them`], fileVar);
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      throw createError('PERISCOPE_ERR_SECRET_FILE', [fileVar, `names a file that cannot be read (${code}: ${sanitizeText(path, 256)})`], fileVar);
    }
    const value = content.replace(/[\r\n]+$/, '');
    if (value === '') throw createError('PERISCOPE_ERR_SECRET_FILE', [fileVar, `names an empty file (${sanitizeText(path, 256)})`], fileVar);
    this.#taken.set(name, 'file');
    return value;
  }

  /**
   * Reports `value` of `variable` as ignored (once per variable). The value is echoed
   * sanitized and capped ({@link ENV_LIMITS}.echo); a custom `message` receives it so.
   */
  ignore(variable: string, value: string, allowed: string, message?: (shown: string) => string): void {
    this.#taken.delete(variable);
    if (this.#warned.has(variable)) return;
    this.#warned.add(variable);
    const shown = echo(value);
    const text = message === undefined ? `periscope: ignoring ${variable}="${shown}"; allowed: ${allowed}. It is treated as unset.` : message(shown);
    this.#warn(Object.freeze({ variable, value: shown, allowed, message: text }));
  }

  /** The value as set (a list the caller parses; its warnings echo it capped). */
  string(name: EnvVar): string | undefined {
    return this.#env[name];
  }

  /** Free text: at most {@link ENV_LIMITS}.text characters; a longer value is cut, with one warning. */
  text(name: EnvVar): string | undefined {
    const v = this.#env[name];
    if (v === undefined || v.length <= ENV_LIMITS.text) return v;
    const max = ENV_LIMITS.text;
    this.ignore(name, v, `at most ${max} characters`, (shown) => `periscope: ${name}="${shown}" is ${v.length} characters long; cut to its first ${max}.`);
    // Cut on a code point boundary, as the sanitizer does.
    const cut = v.slice(0, max);
    return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
  }

  /** Set to anything. */
  present(name: EnvVar): boolean {
    return this.#env[name] !== undefined;
  }

  /** `true` or `false`, case-insensitive (the spec's boolean). */
  bool(name: EnvVar): boolean | undefined {
    const v = this.#env[name];
    if (v === undefined) return undefined;
    const lower = v.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    this.ignore(name, v, 'true or false');
    return undefined;
  }

  /** One of `allowed`, compared in lower case (the spec's enum values are case-insensitive). */
  oneOf<T extends string>(name: EnvVar, allowed: readonly T[], allowedText = allowed.join(', ')): T | undefined {
    const v = this.#env[name];
    if (v === undefined) return undefined;
    const lower = v.toLowerCase() as T;
    if (allowed.includes(lower)) return lower;
    this.ignore(name, v, allowedText);
    return undefined;
  }

  /** An integer in [min, max]. */
  int(name: EnvVar, min: number, max: number): number | undefined {
    const v = this.#env[name];
    if (v === undefined) return undefined;
    const n = /^[+-]?\d+$/.test(v) ? Number(v) : NaN;
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    this.ignore(name, v, `an integer from ${min} to ${max}`);
    return undefined;
  }

  /** A number in [min, max]. */
  number(name: EnvVar, min: number, max: number): number | undefined {
    const v = this.#env[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (Number.isFinite(n) && n >= min && n <= max) return n;
    this.ignore(name, v, `a number from ${min} to ${max}`);
    return undefined;
  }

  /** An absolute http:// or https:// URL of at most {@link ENV_LIMITS}.endpoint characters. */
  url(name: EnvVar): string | undefined {
    const v = this.#env[name];
    if (v === undefined) return undefined;
    if (v.length <= ENV_LIMITS.endpoint && isHttpUrl(v)) return v;
    this.ignore(name, v, `an http:// or https:// URL of at most ${ENV_LIMITS.endpoint} characters`);
    return undefined;
  }

  /**
   * `key1=value1,key2=value2`, values percent-encoded (the spec's format of
   * `OTEL_RESOURCE_ATTRIBUTES` and `*_HEADERS`), at most {@link ENV_LIMITS}.keyValues
   * characters, each resource attribute value at most {@link ENV_LIMITS}.resourceValue. A
   * malformed or oversized list is ignored whole, as the resource SDK specification says.
   */
  keyValues(name: EnvVar, { hideValue = false } = {}): Readonly<Record<string, string>> | undefined {
    const raw = this.#env[name];
    if (raw === undefined) return undefined;
    if (raw.length > ENV_LIMITS.keyValues) {
      this.ignore(name, hideValue ? '[hidden]' : raw, `comma-separated key=value pairs of at most ${ENV_LIMITS.keyValues} characters in all`);
      return undefined;
    }
    const maxValue = name === 'OTEL_RESOURCE_ATTRIBUTES' ? ENV_LIMITS.resourceValue : Infinity;
    const out: Record<string, string> = {};
    for (const pair of raw.split(',')) {
      if (pair.trim() === '') continue;
      const eq = pair.indexOf('=');
      const key = eq <= 0 ? '' : pair.slice(0, eq).trim();
      let value: string | undefined;
      try {
        value = decodeURIComponent(pair.slice(eq + 1).trim());
      } catch {
        value = undefined;
      }
      if (key === '' || value === undefined) {
        this.ignore(name, hideValue ? '[hidden]' : raw, 'comma-separated key=value pairs, values percent-encoded');
        return undefined;
      }
      if (value.length > maxValue) {
        this.ignore(name, raw, `comma-separated key=value pairs, each value at most ${maxValue} characters`);
        return undefined;
      }
      out[key] = value;
    }
    return Object.freeze(out);
  }
}

interface PackageJson {
  name?: unknown;
  version?: unknown;
}

function readPackage(path: string): PackageJson | undefined {
  try {
    const pkg = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return typeof pkg === 'object' && pkg !== null ? (pkg as PackageJson) : undefined;
  } catch {
    return undefined;
  }
}

/** The first package.json at or above `dir`, with its path, or undefined. */
function packageAbove(dir: string): { path: string; pkg: PackageJson } | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const path = join(d, 'package.json');
    if (existsSync(path)) {
      const pkg = readPackage(path);
      if (pkg !== undefined) return { path, pkg };
    }
    if (dirname(d) === d) return undefined;
  }
}

/**
 * Where the app's package.json is looked for: the folder of the entry script
 * (`process.argv[1]`), or the working directory when there is none or it lies inside
 * `node_modules` (a runner such as pm2 or a test runner started the process).
 */
export function appSearchStart(entry: string | undefined = process.argv[1], cwd: string = process.cwd()): string {
  if (entry === undefined || entry === '') return cwd;
  let path: string;
  try {
    path = realpathSync(entry);
  } catch {
    // A script name that is not a file (node -e, a REPL): the working directory decides.
    return cwd;
  }
  return path.split(sep).includes('node_modules') ? cwd : dirname(path);
}

/**
 * The app's name and version: the first package.json at or above {@link appSearchStart}. (From
 * an app's entry script that is the app's; it is this SDK's own only for a script inside the SDK,
 * its demos and tests, where the SDK is the app.)
 */
export function findAppPackage(start: string = appSearchStart()): { name: string | undefined; version: string | undefined } | undefined {
  const found = packageAbove(start);
  if (found === undefined) return undefined;
  return { name: nonEmpty(found.pkg.name), version: nonEmpty(found.pkg.version) };
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/** `serviceName` and `version` as `instrument()` and `createLogger()` resolve them. */
export interface Identity {
  readonly serviceName: string;
  readonly version: string;
}

/**
 * Service name: the option, else `OTEL_SERVICE_NAME`, else `service.name` in
 * `OTEL_RESOURCE_ATTRIBUTES` (the spec ranks them so), else the app's package.json, else
 * `unknown_service:node`. Version: the option, else the app's package.json, else `0.0.0`.
 * The package is only looked for when needed; when it is needed and missing, one warning.
 */
export function resolveIdentity(o: { serviceName?: unknown; version?: unknown }, read: EnvReader, start?: string): Identity {
  let pkg: ReturnType<typeof findAppPackage> | null = null;
  const app = () => {
    if (pkg !== null) return pkg;
    const from = start ?? appSearchStart();
    pkg = findAppPackage(from);
    if (pkg === undefined) {
      read.ignore(
        'package.json',
        from,
        "a package.json of the app in the entry script's folder or above it",
        // A path, not a value from outside: escaped, but long enough for a deep monorepo.
        () =>
          `periscope: found no package.json of the app at or above ${sanitizeText(from, 1024)}; the service name and version ` +
          'fall back to OTEL_SERVICE_NAME, unknown_service:node and 0.0.0. Set the serviceName and version options to name the service.',
      );
    }
    return pkg;
  };
  const serviceName =
    optString(o.serviceName, 'serviceName') ??
    read.text('OTEL_SERVICE_NAME') ??
    nonEmpty(read.keyValues('OTEL_RESOURCE_ATTRIBUTES')?.['service.name']) ??
    app()?.name ??
    'unknown_service:node';
  const version = optString(o.version, 'version') ?? app()?.version ?? '0.0.0';
  return { serviceName, version };
}

/**
 * Which option each variable feeds (an option path covers everything below it), for
 * `/debug/config`'s sources. The first variable of a list that was taken is the source.
 */
export const OPTION_ENV: Readonly<Record<string, readonly EnvVar[]>> = Object.freeze({
  serviceName: ['OTEL_SERVICE_NAME', 'OTEL_RESOURCE_ATTRIBUTES'],
  commit: ['GIT_COMMIT', 'SOURCE_COMMIT', 'COMMIT_SHA'],
  'logging.level': ['LOG_LEVEL'],
  tracing: ['OTEL_SDK_DISABLED'],
  'tracing.endpoint': ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  'tracing.exporter': ['OTEL_TRACES_EXPORTER'],
  'tracing.protocol': ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'],
  'tracing.compression': ['OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'OTEL_EXPORTER_OTLP_COMPRESSION'],
  'tracing.sampler': ['OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG'],
  'tracing.headers': ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'OTEL_EXPORTER_OTLP_HEADERS'],
  'tracing.resourceAttributes': ['OTEL_RESOURCE_ATTRIBUTES'],
  'tracing.propagators': ['OTEL_PROPAGATORS'],
  'tracing.maxQueueSize': ['OTEL_BSP_MAX_QUEUE_SIZE'],
  'tracing.maxExportBatchSize': ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE'],
  'tracing.scheduledDelayMillis': ['OTEL_BSP_SCHEDULE_DELAY'],
  'tracing.exportTimeoutMillis': ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_BSP_EXPORT_TIMEOUT'],
  'metrics.otlp': ['OTEL_METRICS_EXPORTER'],
  'metrics.otlp.endpoint': ['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  'metrics.otlp.protocol': ['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'],
  'metrics.otlp.compression': ['OTEL_EXPORTER_OTLP_METRICS_COMPRESSION', 'OTEL_EXPORTER_OTLP_COMPRESSION'],
  'metrics.otlp.headers': ['OTEL_EXPORTER_OTLP_METRICS_HEADERS', 'OTEL_EXPORTER_OTLP_HEADERS'],
  'metrics.otlp.intervalMs': ['OTEL_METRIC_EXPORT_INTERVAL'],
  'metrics.otlp.timeoutMs': ['OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_METRIC_EXPORT_TIMEOUT'],
  'metrics.otlp.resourceAttributes': ['OTEL_RESOURCE_ATTRIBUTES'],
  'shutdown.drainDelayMs': ['KUBERNETES_SERVICE_HOST'],
  console: ['PERISCOPE_CONSOLE'],
  'metrics.auth': ['PERISCOPE_METRICS_TOKEN', 'PERISCOPE_METRICS_PASSWORD', 'PERISCOPE_METRICS_USERNAME'],
  'health.auth': ['PERISCOPE_HEALTH_TOKEN', 'PERISCOPE_HEALTH_PASSWORD', 'PERISCOPE_HEALTH_USERNAME'],
  'diagnostics.auth': ['PERISCOPE_DIAGNOSTICS_TOKEN', 'PERISCOPE_DIAGNOSTICS_PASSWORD', 'PERISCOPE_DIAGNOSTICS_USERNAME'],
});
