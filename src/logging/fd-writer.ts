import { writeSync, writevSync } from 'node:fs';

/** Why log lines were dropped: the `reason` of `periscope_log_lines_dropped_total`. */
export type LogDropReason = 'buffer_full' | 'write_failed';
export const LOG_DROP_REASONS: readonly LogDropReason[] = Object.freeze(['buffer_full', 'write_failed']);

/** Writes as much of `chunks` as the destination takes now, returning the bytes taken; throws EAGAIN when it takes nothing. */
export type WriteSome = (chunks: readonly Buffer[]) => number;

/** What an {@link FdWriter} tells: drops (for the counter) and the line written once the destination drains. */
export interface FdWriterSinks {
  /** Lines that will never be written, by reason. */
  onDrop?: (reason: LogDropReason, lines: number) => void;
  /** The one line written after a stall in which `dropped` lines were dropped; undefined writes none. */
  notice?: (dropped: number) => string | undefined;
}

export interface FdWriterOptions {
  /** Most bytes held while the destination does not take them; past it the newest lines are dropped. */
  readonly maxBufferBytes: number;
  readonly report: (error: unknown, where: string) => void;
  /** The syscall, replaceable in tests. */
  readonly writeSome: WriteSome;
}

/** Retry delays while the destination takes nothing: from the first to the last, doubling. */
const RETRY_FIRST_MS = 5;
const RETRY_MAX_MS = 100;
/** The most buffers handed to one writev (Linux IOV_MAX is 1024). */
const MAX_IOV = 512;
const NEWLINE = 0x0a;

/** `fs.writevSync` on `fd`: one syscall for the whole backlog. */
export function writevTo(fd: number): WriteSome {
  return (chunks) => (chunks.length === 1 ? writeSync(fd, chunks[0]!) : writevSync(fd, chunks.length > MAX_IOV ? chunks.slice(0, MAX_IOV) : (chunks as Buffer[])));
}

function isAgain(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EBUSY';
}

/** Lines in `data`: its newlines, plus an unterminated tail. */
function countLines(data: Buffer): number {
  if (data.length === 0) return 0;
  let lines = 0;
  for (let i = data.indexOf(NEWLINE); i !== -1; i = data.indexOf(NEWLINE, i + 1)) lines++;
  return data[data.length - 1] === NEWLINE ? lines : lines + 1;
}

/** Blocks the thread for `ms` (only on the exit path, where nothing else can run anyway). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Writes log data to a file descriptor without ever waiting for it. While the destination
 * takes each write whole (the fast path) this is one `writev` per call. When it refuses a
 * write (EAGAIN on a non-blocking pipe whose reader stopped) or takes part of one, the rest
 * is held, up to `maxBufferBytes`; past that the newest lines are dropped (a held line is
 * never cut: a partly written line is always completed). A timer retries, backing off from
 * 5 ms to 100 ms; once everything held is written, one line (`notice`) says how many lines
 * were dropped. The timer is not unref'd: a process ending on its own waits for its lines.
 * Errors other than EAGAIN (EPIPE: the reader is gone) drop what they hit, counted as
 * `write_failed`, and are reported.
 */
export class FdWriter {
  readonly #max: number;
  readonly #report: FdWriterOptions['report'];
  readonly #writeSome: WriteSome;
  /** Held data; the first buffer may be the unwritten rest of a partial write. */
  #queue: Buffer[] = [];
  #queued = 0;
  /** True from a refused or partial write until everything held (and the notice) is written. */
  #blocked = false;
  /** Lines dropped for lack of room since the last notice. */
  #dropped = 0;
  #timer: NodeJS.Timeout | undefined;
  #delay = RETRY_FIRST_MS;
  #drained: (() => void)[] = [];
  #closed = false;
  #onDrop: NonNullable<FdWriterSinks['onDrop']> = () => {};
  #notice: NonNullable<FdWriterSinks['notice']> = () => undefined;
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#retry();
  };

  constructor(options: FdWriterOptions) {
    this.#max = options.maxBufferBytes;
    this.#report = options.report;
    this.#writeSome = options.writeSome;
  }

  /** Sets the drop counter and the notice line (each only when given). */
  bind(sinks: FdWriterSinks): void {
    if (sinks.onDrop !== undefined) this.#onDrop = sinks.onDrop;
    if (sinks.notice !== undefined) this.#notice = sinks.notice;
  }

  /**
   * Writes `data` (whole lines) now, or holds a copy of it, or drops its newest lines. Never
   * throws, never waits; done with `data` when it returns.
   */
  write(data: Buffer): void {
    if (this.#blocked) {
      this.#hold(data, 0);
      return;
    }
    let n: number;
    try {
      n = this.#writeSome([data]);
    } catch (error) {
      if (!isAgain(error)) {
        this.#fail(error, countLines(data));
        return;
      }
      n = 0;
    }
    if (n === data.length) return;
    this.#block();
    // A partly written line must be completed, whatever the room, or the reader gets half a line.
    const rest = data.subarray(n);
    this.#hold(rest, n === 0 ? 0 : rest.indexOf(NEWLINE) + 1);
  }

  /** Bytes held, waiting for the destination. */
  get held(): number {
    return this.#queued;
  }

  /** Lines dropped for lack of room and not yet told by a notice line. */
  get droppedSinceNotice(): number {
    return this.#dropped;
  }

  /** Resolves once everything held is written, or after `timeoutMs` (shutdown has its own deadline too). */
  flush(timeoutMs: number): Promise<void> {
    if (!this.#blocked) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.#drained.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * For the exit path: writes what is held, waiting (blocking, as nothing else runs at exit)
   * at most `timeoutMs` in all for a stalled destination; what is still held then is lost.
   */
  drainSync(timeoutMs: number): void {
    const deadline = Date.now() + timeoutMs;
    while (this.#blocked && !this.#closed) {
      this.#retry();
      if (!this.#blocked || Date.now() >= deadline) break;
      sleepSync(RETRY_FIRST_MS);
    }
  }

  /** Stops retrying; what is held is dropped (uncounted: the caller closes the destination). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#queued = 0;
    this.#release();
  }

  #block(): void {
    this.#blocked = true;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(this.#onTimer, this.#delay);
    this.#delay = Math.min(this.#delay * 2, RETRY_MAX_MS);
  }

  /** Holds as many whole lines of `data` as fit (at least its first `keep` bytes); drops and counts the rest. */
  #hold(data: Buffer, keep: number): void {
    const room = this.#max - this.#queued;
    let cut = data.length;
    if (cut > room) {
      cut = room <= 0 ? 0 : data.lastIndexOf(NEWLINE, room - 1) + 1;
      if (cut < keep) cut = keep;
      const lines = countLines(data.subarray(cut));
      if (lines > 0) {
        this.#dropped += lines;
        this.#onDrop('buffer_full', lines);
      }
    }
    if (cut > 0) {
      // A copy: the caller may reuse `data` once write returns (a LineBatch's staging buffer).
      this.#queue.push(Buffer.from(data.subarray(0, cut)));
      this.#queued += cut;
    }
  }

  #retry(): void {
    while (this.#queued > 0) {
      let n: number;
      try {
        n = this.#writeSome(this.#queue);
      } catch (error) {
        if (!isAgain(error)) {
          let lines = 0;
          for (const chunk of this.#queue) lines += countLines(chunk);
          this.#queue = [];
          this.#queued = 0;
          this.#fail(error, lines);
          break;
        }
        n = 0;
      }
      if (n === 0) {
        this.#schedule();
        return;
      }
      this.#consume(n);
      // Progress: the next wait starts short again.
      this.#delay = RETRY_FIRST_MS;
    }
    if (this.#dropped > 0 && !this.#writeNotice()) {
      this.#schedule();
      return;
    }
    this.#blocked = false;
    this.#delay = RETRY_FIRST_MS;
    this.#release();
  }

  /** Drops `n` written bytes from the front of the queue. */
  #consume(n: number): void {
    this.#queued -= n;
    let i = 0;
    while (n > 0 && i < this.#queue.length) {
      const head = this.#queue[i]!;
      if (n >= head.length) {
        n -= head.length;
        i++;
      } else {
        this.#queue[i] = head.subarray(n);
        n = 0;
      }
    }
    if (i > 0) this.#queue.splice(0, i);
  }

  /** Tries the notice line; false when the destination took none of it (it is tried again later). */
  #writeNotice(): boolean {
    let line: string | undefined;
    try {
      line = this.#notice(this.#dropped);
    } catch (error) {
      this.#report(error, 'log-write');
    }
    if (line === undefined) {
      this.#dropped = 0;
      return true;
    }
    const data = Buffer.from(line, 'utf8');
    let n: number;
    try {
      n = this.#writeSome([data]);
    } catch (error) {
      if (isAgain(error)) return false;
      this.#dropped = 0;
      this.#report(error, 'log-write');
      return true;
    }
    if (n === 0) return false;
    this.#dropped = 0;
    if (n < data.length) {
      // The rest of the notice is held like any partly written line.
      this.#hold(data.subarray(n), data.length - n);
      this.#schedule();
      return false;
    }
    return true;
  }

  #fail(error: unknown, lines: number): void {
    this.#report(error, 'log-write');
    if (lines > 0) this.#onDrop('write_failed', lines);
  }

  #release(): void {
    const waiting = this.#drained;
    if (waiting.length === 0) return;
    this.#drained = [];
    for (const done of waiting) done();
  }
}
