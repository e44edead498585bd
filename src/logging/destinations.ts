import { mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import pino from 'pino';
import type { DestinationStream } from 'pino';
import { createError, describeValue } from '../errors.js';
import type { LogDestination, LogFileDestination, LogStream } from './options.js';
import { LineBatch } from './batch.js';

/** The stream a logger writes to, with what shutdown needs. */
export interface BuiltDestination {
  readonly stream: DestinationStream;
  /** Resolves once every line written so far has reached the OS (or the transport's worker). */
  flush(): Promise<void>;
  /** Flushes, then closes the files and transport workers periscope opened; user streams stay open. */
  close(): Promise<void>;
}

interface Part {
  stream: DestinationStream;
  flush(): Promise<void>;
  close(): Promise<void>;
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
 * stdout, stderr and plain files use sonic-boom (pino.destination), writing synchronously.
 *
 * By default the lines of one event-loop turn are collected ({@link LineBatch}) and written
 * together at the end of the turn: the logging call returns at once, a busy server makes one
 * write per turn, and lines reach the OS within the turn (an exit handler writes what is
 * pending, so only SIGKILL can lose a turn's lines). Writing through sonic-boom's
 * asynchronous mode instead cost twice the CPU per line (the thread-pool hand-off) and held
 * an unbounded backlog in memory when the reader is slow. With `sync`, every line is written
 * before the logging call returns.
 */
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

function part(d: LogDestination, sync: boolean, report: Report): Part {
  if (d === 'stdout') return sonic(1, sync, report);
  if (d === 'stderr') return sonic(2, sync, report);
  if (typeof d === 'string') return sonic(d, sync, report);
  if (typeof (d as LogStream).write === 'function') return userStream(d as LogStream);
  const file = d as LogFileDestination;
  return file.rotate === undefined ? sonic(file.path, sync, report) : rolling(file, report);
}

/** Builds the logger's stream: one destination, or pino.multistream over several. */
export function buildDestination(destinations: readonly LogDestination[], sync: boolean, report: Report): BuiltDestination {
  const parts = destinations.map((d) => part(d, sync, report));
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
  };
}
