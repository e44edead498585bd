import { register, unregister } from 'on-exit-leak-free';

/**
 * What a batch writes to: an `FdWriter` (`onBackpressure: 'drop'`), or sonic-boom's
 * synchronous `write` in its Buffer mode (`'block'`). The Buffer is the target's from then on,
 * unless the target {@link BatchTarget.borrows} it.
 */
export interface BatchTarget {
  write(data: Buffer): unknown;
  /**
   * True when `write` is done with `data` when it returns (written, or copied where it is
   * held): the batch then hands on a view of its staging buffer instead of a copy of it.
   */
  readonly borrows?: boolean;
  /** On exit, after the last hand-on: writes what the target holds, bounded in time. */
  drainSync?(): void;
}

/** Size of the staging buffer: lines are handed on at the end of the event-loop turn, or once it is full. */
export const BATCH_BYTES = 64 * 1024;

/**
 * Collects the lines written during one event-loop turn and hands them to `target` as one
 * Buffer in a `setImmediate`, so a busy server makes one write per turn instead of one per
 * line, and no request waits for it. Each line is UTF-8 encoded once, straight into a
 * staging buffer that is reused; a batch costs one copy out of it.
 *
 * Measured on the Fastify request-log benchmark: handing each line to sonic-boom as a string
 * cost a `Buffer.byteLength` of its growing pending string per line (quadratic while a write
 * is in flight), a syscall per line, and two more encodings of every line; together 8.5% of
 * the server's CPU. In process, pinned to one CPU, at 5 lines per turn: 1.7 µs of CPU a line
 * batched and written synchronously, 3.4 µs batched and written through sonic-boom's
 * asynchronous mode (the thread-pool hand-off), 4.0 µs and 4.8 µs for a write per line
 * (synchronous, asynchronous). `bench/log-batch.mjs` measures it: writing the batch with
 * `FdWriter` (one writeSync, no sonic-boom bookkeeping) cost 0.85-1.1 µs a line against
 * 1.3-1.5 µs through sonic-boom (paired runs, 5 lines a turn, one CPU, load 4 on 2 cores).
 *
 * Nothing is lost on exit: an exit handler (weakly held, so a dropped logger is collected)
 * writes the pending lines (with `onBackpressure: 'drop'`, waiting at most a bounded time for
 * a stalled reader).
 */
export class LineBatch {
  readonly #staging = Buffer.allocUnsafe(BATCH_BYTES);
  #used = 0;
  #scheduled = false;
  readonly #target: BatchTarget;
  readonly #report: (error: unknown, where: string) => void;
  readonly #onImmediate = (): void => {
    this.#scheduled = false;
    this.handOn();
  };

  constructor(target: BatchTarget, report: (error: unknown, where: string) => void) {
    this.#target = target;
    this.#report = report;
    register(this, exitFlush);
  }

  write(line: string): boolean {
    // A UTF-16 code unit is at most 3 UTF-8 bytes: a line that may not fit goes after the rest.
    if (this.#used + line.length * 3 > BATCH_BYTES) {
      this.handOn();
      if (line.length * 3 > BATCH_BYTES) {
        this.#send(Buffer.from(line, 'utf8'));
        return true;
      }
    }
    this.#used += this.#staging.write(line, this.#used);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#onImmediate);
    }
    return true;
  }

  /** Hands the pending lines to the target now. */
  handOn(): void {
    const n = this.#used;
    if (n === 0) return;
    this.#used = 0;
    const view = this.#staging.subarray(0, n);
    this.#send(this.#target.borrows === true ? view : Buffer.from(view));
  }

  #send(data: Buffer): void {
    try {
      this.#target.write(data);
    } catch (error) {
      this.#report(error, 'log-write');
    }
  }

  /** pino's `logger.flush(cb)` lands here: the pending lines are written before `cb` runs. */
  flush(cb?: (err?: Error | null) => void): void {
    this.handOn();
    cb?.();
  }

  /** For pino.multistream and pino's exit paths: the pending lines, written now. */
  flushSync(): void {
    this.handOn();
  }

  /** Bytes waiting for the end of the turn. */
  get pending(): number {
    return this.#used;
  }

  /** The exit path: what the target holds, written (bounded by the target). */
  drainTarget(): void {
    try {
      this.#target.drainSync?.();
    } catch (error) {
      this.#report(error, 'log-write');
    }
  }

  /** Stops the exit handler; the caller hands on and closes the target itself. */
  detach(): void {
    unregister(this);
  }

}

function exitFlush(batch: LineBatch): void {
  // The target writes synchronously, so this completes before the process ends.
  batch.handOn();
  batch.drainTarget();
}
