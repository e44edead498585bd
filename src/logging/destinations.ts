import { once } from 'node:events';
import { resolve } from 'node:path';
import pino from 'pino';
import type { DestinationStream } from 'pino';
import type { LogDestination, LogFileDestination, LogStream } from '../options.js';

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
 * stdout, stderr and plain files use sonic-boom (pino.destination). Asynchronous by default:
 * a line is handed to the OS by fs.write without blocking the request, lines arriving while
 * a write is in flight are batched, and pino registers an exit handler that writes what is
 * left synchronously, so a normal exit or a crash loses nothing (only SIGKILL can).
 */
function sonic(dest: number | string, sync: boolean, report: Report): Part {
  const stream = pino.destination({ dest, sync, mkdir: typeof dest === 'string' });
  stream.on('error', (error: Error) => report(error, 'log-destination'));
  const flush = async () => {
    try {
      // sonic-boom's flush(cb) returns at once when it does not batch (minLength 0), so: wait
      // for the file to open and for the write in flight, then write the rest synchronously,
      // in order. `_writing` is sonic-boom's own flag; pino's exit handler relies on the same.
      if ((stream as unknown as { fd: number }).fd < 0) await once(stream, 'ready');
      while ((stream as unknown as { _writing?: boolean })._writing === true) await once(stream, 'write');
      stream.flushSync();
    } catch (error) {
      report(error, 'log-flush');
    }
  };
  return {
    stream,
    flush,
    async close() {
      await flush();
      // Never close the process's own stdout or stderr.
      if (typeof dest === 'number') return;
      await new Promise<void>((done) => {
        stream.once('close', () => done());
        stream.end();
      });
    },
  };
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
