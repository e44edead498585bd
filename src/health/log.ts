/**
 * The logger health and shutdown write through: pino's `Logger` fits it as is (instrument()
 * passes periscope's own, or a silent one with `logging: false`).
 */
export interface LoggerLike {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
