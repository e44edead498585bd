import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { register, unregister } from 'on-exit-leak-free';
import pino from 'pino';
import type { DestinationStream } from 'pino';
import { createError, describeValue } from '../errors.js';
import type { LogDestination, LogFileDestination, LogStream } from './options.js';
import { LineBatch } from './batch.js';
import { FdWriter, writevTo } from './fd-writer.js';
import type { FdWriterSinks } from './fd-writer.js';

/** How the fd destinations behave when a write is not taken (`logging.onBackpressure`, `logging.maxBufferBytes`). */
export interface WriteOptions {
  readonly sync: boolean;
  readonly onBackpressure: 'drop' | 'block';
  readonly maxBufferBytes: number;
}

/** How long shutdown's flush waits for a stalled reader to take what is held. */
const FLUSH_WAIT_MS = 2000;
/** How long the exit handler waits, blocking, for a stalled reader to take what is held. */
const EXIT_WAIT_MS = 1000;

/** The stream a logger writes to, with what shutdown needs. */
export interface BuiltDestination {
  readonly stream: DestinationStream;
  /** Resolves once every line written so far has reached the OS (or the transport's worker). */
  flush(): Promise<void>;
  /** Flushes, then closes the files and transport workers periscope opened; user streams stay open. */
  close(): Promise<void>;
  /** Sets where drops are counted and the line written after a stall (the destinations that can drop). */
  bind(sinks: FdWriterSinks): void;
}

interface Part {
  stream: DestinationStream;
  flush(): Promise<void>;
  close(): Promise<void>;
  writer?: FdWriter;
}

type Report = (error: unknown, where: string) => void;

interface Flushable {
  flush(cb?: (err?: Error | null) => void): void;
}

function flushOf(stream: Flushable, report: Report): () => Promise<void> {
  return () =>
    new Promise<void>((done) => {
      try {
        stream.flush((err) => {
          if (err) report(err, 'log-flush');
          done();
        });
      } catch (error) {
        report(error, 'log-flush');
        done();
      }
    });
}

/**
 * stdout, stderr and plain files. With `onBackpressure: 'drop'` (the default) periscope writes
 * the fd itself ({@link FdWriter}): a write the destination does not take is held, bounded, and
 * never waited for. With `'block'`, sonic-boom (pino.destination) writes synchronously and
 * waits for a stalled reader, as pino does.
 *
 * By default the lines of one event-loop turn are collected ({@link LineBatch}) and written
 * together at the end of the turn: the logging call returns at once, a busy server makes one
 * write per turn, and lines reach the OS within the turn (an exit handler writes what is
 * pending, so only SIGKILL can lose a turn's lines). Writing through sonic-boom's
 * asynchronous mode instead cost twice the CPU per line (the thread-pool hand-off) and held
 * an unbounded backlog in memory when the reader is slow. With `sync`, every line is written
 * before the logging call returns (or held, when the destination takes nothing).
 */
function fdPart(dest: number | string, options: WriteOptions, report: Report): Part {
  return options.onBackpressure === 'block' ? sonic(dest, options.sync, report) : direct(dest, options, report);
}

/**
 * Makes stdout or stderr non-blocking when it is a pipe or a socket: Node does this for the
 * `process.stdout` it wraps around such an fd (libuv's uv_pipe_open), and without it a write
 * to a full pipe waits in the kernel for the reader. A file or a terminal is left as it is.
 */
function nonBlocking(fd: number): void {
  if (fd === 1) void process.stdout;
  else if (fd === 2) void process.stderr;
}

function direct(dest: number | string, options: WriteOptions, report: Report): Part {
  const fd = typeof dest === 'string' ? openLogFile(dest) : dest;
  nonBlocking(fd);
  const writer = new FdWriter({ maxBufferBytes: options.maxBufferBytes, report, writeSome: writevTo(fd) });
  let stream: DestinationStream;
  let batch: LineBatch | undefined;
  if (options.sync) {
    stream = { write: (line: string) => writer.write(Buffer.from(line, 'utf8')) };
    // No batch, whose exit handler would drain the writer: one of its own (weakly held).
    register(writer, exitDrain);
  } else {
    batch = new LineBatch({ borrows: true, write: (data: Buffer) => writer.write(data), drainSync: () => writer.drainSync(EXIT_WAIT_MS) }, report);
    stream = batch;
  }
  const flush = async (): Promise<void> => {
    batch?.handOn();
    await writer.flush(FLUSH_WAIT_MS);
    if (typeof dest === 'string') {
      try {
        fsyncSync(fd);
      } catch (error) {
        report(error, 'log-flush');
      }
    }
  };
  let closed: Promise<void> | undefined;
  return {
    stream,
    flush,
    writer,
    close() {
      closed ??= flush().then(() => {
        if (batch === undefined) unregister(writer);
        else batch.detach();
        writer.close();
        // Never close the process's own stdout or stderr.
        if (typeof dest === 'string') {
          try {
            closeSync(fd);
          } catch (error) {
            report(error, 'log-destination');
          }
        }
      });
      return closed;
    },
  };
}

function exitDrain(writer: FdWriter): void {
  writer.drainSync(EXIT_WAIT_MS);
}

/** `onBackpressure: 'block'`: sonic-boom, writing synchronously and waiting for a stalled reader. */
function sonic(dest: number | string, sync: boolean, report: Report): Part {
  // Batched writes arrive as Buffers: sonic-boom's Buffer mode takes them as they are.
  const boom = pino.destination({ dest: typeof dest === 'string' ? openLogFile(dest) : dest, sync: true, contentMode: sync ? 'utf8' : 'buffer' });
  boom.on('error', (error: Error) => report(error, 'log-destination'));
  // The typings say string; in Buffer mode sonic-boom's write takes Buffers.
  const batch = sync ? undefined : new LineBatch({ write: (data) => boom.write(data as unknown as string) }, report);
  const flush = (): Promise<void> => {
    try {
      // Everything is written synchronously once the batch is handed on; flushSync also
      // fsyncs a file.
      batch?.handOn();
      boom.flushSync();
    } catch (error) {
      report(error, 'log-flush');
    }
    return Promise.resolve();
  };
  return {
    stream: batch ?? boom,
    flush,
    async close() {
      await flush();
      batch?.detach();
      // Never close the process's own stdout or stderr.
      if (typeof dest === 'number') return;
      await new Promise<void>((done) => {
        boom.once('close', () => done());
        boom.end();
      });
    },
  };
}

/**
 * Opens a log file for appending (creating its directory), synchronously: a path that cannot
 * be written fails at instrument() with the reason, and the file is open before the first
 * line, so even a process that exits in its first tick loses nothing.
 */
function openLogFile(path: string): number {
  try {
    mkdirSync(dirname(path), { recursive: true });
    return openSync(path, 'a');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw createError('PERISCOPE_ERR_INVALID_OPTION', ['logging.destination', describeValue(path), `a file path that can be opened for appending (opening it failed: ${reason})`], 'logging.destination');
  }
}

function rollSize(size: number | string | undefined): string | undefined {
  if (size === undefined) return undefined;
  return typeof size === 'number' ? `${size}b` : size;
}

/** A rotated file: the maintained `pino-roll` transport, in pino's worker thread. */
function rolling(file: LogFileDestination, report: Report): Part {
  const rotate = file.rotate!;
  const stream = pino.transport({
    target: 'pino-roll',
    options: {
      file: resolve(file.path),
      size: rollSize(rotate.size),
      frequency: rotate.frequency,
      limit: rotate.keep === undefined ? undefined : { count: rotate.keep },
      mkdir: true,
    },
  }) as DestinationStream & Flushable & NodeJS.EventEmitter & { end(): void };
  stream.on('error', (error: Error) => report(error, 'log-destination'));
  const flush = flushOf(stream, report);
  let closed: Promise<void> | undefined;
  return {
    stream,
    flush,
    close() {
      closed ??= new Promise<void>((done) => {
        // The worker closes its file after writing everything it was sent, then exits.
        stream.once('close', () => done());
        stream.end();
      });
      return closed;
    },
  };
}

function userStream(stream: LogStream): Part {
  const s = stream as LogStream & Partial<Flushable>;
  const flush =
    typeof s.flush === 'function'
      ? () => new Promise<void>((done) => { s.flush!(() => done()); })
      : () => Promise.resolve();
  return { stream: stream as DestinationStream, flush, close: flush };
}

function part(d: LogDestination, options: WriteOptions, report: Report): Part {
  if (d === 'stdout') return fdPart(1, options, report);
  if (d === 'stderr') return fdPart(2, options, report);
  if (typeof d === 'string') return fdPart(d, options, report);
  if (typeof (d as LogStream).write === 'function') return userStream(d as LogStream);
  const file = d as LogFileDestination;
  return file.rotate === undefined ? fdPart(file.path, options, report) : rolling(file, report);
}

/** Builds the logger's stream: one destination, or pino.multistream over several. */
export function buildDestination(destinations: readonly LogDestination[], options: WriteOptions, report: Report, tap?: (line: string) => void): BuiltDestination {
  const parts = destinations.map((d) => part(d, options, report));
  // The developer console's tap (only when it is on): one more stream that sees every line.
  if (tap !== undefined) parts.push({ stream: { write: tap }, flush: () => Promise.resolve(), close: () => Promise.resolve() });
  const stream =
    parts.length === 1
      ? parts[0]!.stream
      : // The logger's own level filters; each stream takes every line it is given.
        pino.multistream(parts.map((p) => ({ stream: p.stream, level: 'trace' as const })));
  let closed: Promise<void> | undefined;
  return {
    stream,
    flush: async () => {
      await Promise.all(parts.map((p) => p.flush()));
    },
    close() {
      closed ??= Promise.all(parts.map((p) => p.close())).then(() => undefined);
      return closed;
    },
    bind(sinks) {
      for (const p of parts) p.writer?.bind(sinks);
    },
  };
}
