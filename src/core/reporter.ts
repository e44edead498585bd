import { Counter } from '@prometheus-io/client';
import type { Registry } from '@prometheus-io/client';

/** How every part of periscope reports a failure it caught: never throws. */
export type Report = (error: unknown, where: string) => void;

/**
 * The logger concerns write through: pino's `Logger` fits it as is (periscope's own, or a
 * silent one with `logging: false`).
 */
export interface LoggerLike {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * The one internal reporter of an `instrument()` call. A failure caught inside periscope is
 * counted in `periscope_internal_errors_total{where}`, then handed to `onInternalError`, or
 * else written once per `where` as one JSON warning line (`periscope_error`) through
 * periscope's logger; with `logging: false`, as a process warning. Notices (a setup that
 * works but surprises, an ignored environment variable) go the same way, once per code.
 */
export class Reporter {
  readonly #onInternalError: ((error: unknown, where: string) => void) | undefined;
  readonly #counter: Counter<'where'> | undefined;
  readonly #seen = new Set<string>();
  #logger: LoggerLike | undefined;

  constructor(onInternalError: ((error: unknown, where: string) => void) | undefined, registry: Registry | undefined) {
    this.#onInternalError = onInternalError;
    this.#counter =
      registry === undefined
        ? undefined
        : new Counter({
            name: 'periscope_internal_errors_total',
            help: 'Failures inside periscope that were caught before reaching a response, by where they happened.',
            labelNames: ['where'],
            registers: [registry],
          });
  }

  /** From now on, warnings are JSON lines through `logger` instead of process warnings. */
  useLogger(logger: LoggerLike | undefined): void {
    this.#logger = logger;
  }

  readonly report: Report = (error, where) => {
    try {
      this.#counter?.inc({ where });
      if (this.#onInternalError !== undefined) {
        this.#onInternalError(error, where);
        return;
      }
      if (this.#seen.has(where)) return;
      this.#seen.add(where);
      const message = error instanceof Error ? error.message : String(error);
      this.warn('PERISCOPE_INTERNAL_ERROR', `periscope: ${where} failed: ${message} (reported once; counted in periscope_internal_errors_total)`, { where, err: message });
    } catch {
      // The reporter is the last line: it must never throw into a request.
    }
  };

  /** Warns once per `code`: a setup that works but needs the user's attention. */
  notice(code: string, message: string, fields: object = {}): void {
    if (this.#seen.has(code)) return;
    this.#seen.add(code);
    this.warn(code, message, fields);
  }

  /** One warning line with `periscope_error: code` (callers throttle their own repeats). */
  warn(code: string, message: string, fields: object = {}): void {
    const logger = this.#logger;
    if (logger !== undefined) logger.warn({ periscope_error: code, ...fields }, message);
    else process.emitWarning(message, { code });
  }
}
