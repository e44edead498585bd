/**
 * The logger health and shutdown write through. pino's `Logger` fits it as is; until the
 * logging concern hands one in, {@link jsonLinesLogger} writes pino-shaped lines to stderr.
 */
export interface LoggerLike {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Anything with a synchronous-enough `write`, such as `process.stderr`. */
export interface LineSink {
  write(line: string): unknown;
}

/**
 * One JSON object per line with pino's level numbers (30 info, 40 warn, 50 error), `time`
 * in epoch milliseconds and `msg`. Default sink: `process.stderr`.
 */
export function jsonLinesLogger(base: Readonly<Record<string, unknown>> = {}, sink: LineSink = process.stderr): LoggerLike {
  const write = (level: number, obj: object, msg: string) => {
    try {
      sink.write(`${JSON.stringify({ level, time: Date.now(), ...base, ...obj, msg })}\n`);
    } catch {
      // A logger must never throw into shutdown.
    }
  };
  return {
    info: (obj, msg) => write(30, obj, msg),
    warn: (obj, msg) => write(40, obj, msg),
    error: (obj, msg) => write(50, obj, msg),
  };
}
