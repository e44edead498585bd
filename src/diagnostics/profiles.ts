import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { sanitizeText } from '../core/index.js';
import { cpuProfileToPprof, heapProfileToPprof } from './pprof.js';
import type { CpuProfile, SamplingHeapProfile } from './pprof.js';

const gzipAsync = promisify(gzip);

/** The CPU sampling interval, in microseconds (V8's default). */
export const CPU_INTERVAL_MICROS = 1000;
/** Bytes between heap samples (V8's default for `HeapProfiler.startSampling`). */
export const HEAP_SAMPLING_BYTES = 32_768;
/** `?seconds=` bounds and default. */
export const SECONDS = Object.freeze({ min: 1, max: 60, default: 10 });

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${body}\n`);
}

/** A request's query parameter, or undefined. */
function query(req: IncomingMessage, name: string): string | null {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return q === -1 ? null : new URLSearchParams(url.slice(q + 1)).get(name);
}

/** `?seconds=`: an integer from 1 to 60, default 10; otherwise answers 400 and returns undefined. */
function seconds(req: IncomingMessage, res: ServerResponse): number | undefined {
  const raw = query(req, 'seconds');
  if (raw === null) return SECONDS.default;
  const n = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (n >= SECONDS.min && n <= SECONDS.max) return n;
  text(res, 400, `seconds must be an integer from ${SECONDS.min} to ${SECONDS.max} (default ${SECONDS.default}); got "${sanitizeText(raw, 64)}"`);
  return undefined;
}

/** Waits `ms`, or less when the client goes away (a profile nobody will read stops early). */
function wait(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once('close', done);
  });
}

/**
 * The one profile or snapshot that may run at a time (per `instrument()` call): each is a
 * large, process-wide cost, and two at once would measure each other.
 */
export class Exclusive {
  #running: { what: string; since: number } | undefined;

  /** What runs now, or null. */
  get running(): string | null {
    return this.#running?.what ?? null;
  }

  /** Runs `fn` unless something else runs; then answers 409 naming it. */
  async run(what: string, res: ServerResponse, fn: () => Promise<void>): Promise<void> {
    const r = this.#running;
    if (r !== undefined) {
      const ago = ((performance.now() - r.since) / 1000).toFixed(1);
      return text(res, 409, `A ${r.what} is running (started ${ago} s ago); one profile or snapshot at a time. Try again when it ends.`);
    }
    this.#running = { what, since: performance.now() };
    try {
      await fn();
    } finally {
      this.#running = undefined;
    }
  }
}

async function withSession<T>(fn: (s: Session) => Promise<T>): Promise<T> {
  const session = new Session();
  session.connect();
  try {
    return await fn(session);
  } finally {
    session.disconnect();
  }
}

async function sendPprof(res: ServerResponse, encoded: Uint8Array, name: string): Promise<void> {
  const body = await gzipAsync(encoded);
  if (res.destroyed) return;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${name}"`,
    'content-length': body.length,
    'cache-control': 'no-store',
  });
  res.end(body);
}

/** `GET /debug/pprof/profile?seconds=N[&format=cpuprofile]`. */
export function cpuProfileHandler(exclusive: Exclusive) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const n = seconds(req, res);
    if (n === undefined) return;
    const format = query(req, 'format') ?? 'pprof';
    if (format !== 'pprof' && format !== 'cpuprofile') return text(res, 400, `format must be pprof (the default) or cpuprofile; got "${sanitizeText(format, 64)}"`);
    await exclusive.run(`CPU profile (${n} s)`, res, () =>
      withSession(async (session) => {
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: CPU_INTERVAL_MICROS });
        const startedAt = Date.now();
        await session.post('Profiler.start');
        await wait(n * 1000, res);
        const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
        await session.post('Profiler.disable');
        if (res.destroyed) return;
        if (format === 'cpuprofile') {
          const body = JSON.stringify(profile);
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-disposition': `attachment; filename="periscope-${process.pid}-${startedAt}.cpuprofile"`,
            'content-length': Buffer.byteLength(body),
            'cache-control': 'no-store',
          });
          return void res.end(body);
        }
        await sendPprof(res, cpuProfileToPprof(profile, CPU_INTERVAL_MICROS, startedAt).encode(), `periscope-${process.pid}-${startedAt}.cpu.pb.gz`);
      }),
    );
  };
}

/** `GET /debug/pprof/heap?seconds=N`: V8's sampling heap profiler over N seconds, what is still alive at the end. */
export function heapProfileHandler(exclusive: Exclusive) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const n = seconds(req, res);
    if (n === undefined) return;
    await exclusive.run(`heap profile (${n} s)`, res, () =>
      withSession(async (session) => {
        const startedAt = Date.now();
        await session.post('HeapProfiler.startSampling', { samplingInterval: HEAP_SAMPLING_BYTES });
        await wait(n * 1000, res);
        const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: SamplingHeapProfile };
        if (res.destroyed) return;
        await sendPprof(res, heapProfileToPprof(profile, HEAP_SAMPLING_BYTES, startedAt, Date.now() - startedAt).encode(), `periscope-${process.pid}-${startedAt}.heap.pb.gz`);
      }),
    );
  };
}

/**
 * `GET /debug/heapsnapshot`: V8 writes the snapshot to a private temporary file (this pauses
 * the process), which is then streamed with its size in `Content-Length` and removed, so the
 * serialized snapshot is never held in memory whole.
 */
export function heapSnapshotHandler(exclusive: Exclusive) {
  return async (_req: IncomingMessage, res: ServerResponse): Promise<void> => {
    await exclusive.run('heap snapshot', res, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'periscope-heap-'));
      try {
        const file = writeHeapSnapshot(join(dir, `periscope-${process.pid}-${Date.now()}.heapsnapshot`));
        const { size } = await stat(file);
        if (res.destroyed) return;
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-disposition': `attachment; filename="${file.slice(dir.length + 1)}"`,
          'content-length': size,
          'cache-control': 'no-store',
        });
        await new Promise<void>((resolve) => {
          const stream = createReadStream(file);
          stream.on('error', () => res.destroy());
          res.once('close', () => {
            stream.destroy();
            resolve();
          });
          stream.pipe(res);
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  };
}

export { text as answerText };
