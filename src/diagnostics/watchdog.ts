import { Worker } from 'node:worker_threads';
import { trace } from '@opentelemetry/api';

/** What the watchdog tells the main thread once a stall is over. */
export interface Stall {
  /** Milliseconds the event loop did not turn (to within a tenth of the threshold). */
  readonly durationMs: number;
  /** The main thread's JavaScript stack while it was blocked, one `    at fn (url:line:column)` per frame. */
  readonly stack: string;
  /** The request span that was active in the blocked code, when there was one. */
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
  /** Why the stack could not be captured, when it could not. */
  readonly error: string | undefined;
}

/**
 * The one process-wide hook the watchdog thread calls, through the inspector, while the main
 * thread is paused inside the blocking code: the only moment the blocked request's context is
 * active. A `Symbol.for` key, since the inspector evaluates from outside every module; one
 * entry per watchdog, removed at close.
 */
const HOOKS_KEY = Symbol.for('periscope.diagnostics.stall');

type StallHook = (stack: string, elapsedMs: number) => { traceId: string; spanId: string } | undefined;

function hooks(): Map<string, StallHook> {
  const g = globalThis as Record<symbol, Map<string, StallHook> | undefined>;
  return (g[HOOKS_KEY] ??= new Map());
}

/**
 * The watchdog thread, as CommonJS source (so the same text runs from `src/` and `dist/`). It
 * reads a counter the main thread bumps every `pollMs`; when the counter has not moved for
 * `stallMs`, it connects an inspector session to the main thread, pauses it (the pause is
 * served as an interrupt even while JavaScript runs), reads the call frames, calls the hook
 * in the paused frame, resumes, and once the counter moves again posts the stall.
 */
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { Session } = require('node:inspector');
const { beat, stallMs, pollMs, id } = workerData;
let seen = Atomics.load(beat, 0);
let seenAt = performance.now();
let pending = null;
// Call frames name their script by id only; Debugger.enable reports each script once.
const scripts = new Map();
let expecting = null;
const session = new Session();
session.connectToMainThread();
function post(method, params) {
  return new Promise((resolve, reject) => session.post(method, params || {}, (e, r) => (e ? reject(e) : resolve(r))));
}
session.on('Debugger.scriptParsed', (m) => {
  if (m.params.url) scripts.set(m.params.scriptId, m.params.url);
});
session.on('Debugger.paused', (m) => {
  const waiting = expecting;
  expecting = null;
  // A pause this thread did not ask for (a debugger statement while enabled): let the program go on.
  if (waiting === null) post('Debugger.resume').catch(() => {});
  else waiting(m.params);
});
// The debugger is on only while a stack is taken: enabled, it slowed promise-heavy code by a
// third to a half (measured). Enabling reports every loaded script, which costs the main thread
// 150-200 ms in a process of 900 scripts, inside the stall; the three requests go in one batch
// so the main thread serves them in one interrupt.
async function capture(elapsed) {
  scripts.clear();
  const paused = new Promise((resolve) => (expecting = resolve));
  await Promise.all([post('Debugger.enable'), post('Debugger.setBreakpointsActive', { active: false }), post('Debugger.pause')]);
  const params = await paused;
  try {
    const frames = params.callFrames.slice(0, 64);
    const stack = frames
      .map((f) => '    at ' + (f.functionName || '<anonymous>') + ' (' + (f.url || scripts.get(f.location.scriptId) || '<unknown>') + ':' + (f.location.lineNumber + 1) + ':' + (f.location.columnNumber + 1) + ')')
      .join('\\n');
    let context;
    if (frames.length > 0) {
      const expression = 'globalThis[Symbol.for("periscope.diagnostics.stall")]?.get(' + JSON.stringify(id) + ')?.(' + JSON.stringify(stack) + ', ' + Math.round(elapsed) + ')';
      const r = await post('Debugger.evaluateOnCallFrame', { callFrameId: frames[0].callFrameId, expression, returnByValue: true, silent: true });
      context = r && r.result ? r.result.value : undefined;
    }
    return { stack, context };
  } finally {
    await post('Debugger.resume');
    await post('Debugger.disable');
  }
}
setInterval(() => {
  const now = performance.now();
  const b = Atomics.load(beat, 0);
  if (b !== seen) {
    if (pending !== null) {
      const durationMs = Math.round(now - seenAt);
      pending.then((c) => parentPort.postMessage({ durationMs, stack: c.stack, context: c.context, error: c.error }));
      pending = null;
    }
    seen = b;
    seenAt = now;
  } else if (pending === null && now - seenAt > stallMs) {
    pending = capture(now - seenAt).catch((e) => ({ stack: '', error: String((e && e.message) || e) }));
  }
}, pollMs);
`;

export interface WatchdogOptions {
  readonly stallMs: number;
  readonly onStall: (stall: Stall) => void;
  readonly report: (error: unknown, where: string) => void;
}

let nextId = 0;

/**
 * Watches the main event loop from a worker thread. The main thread's only cost is one
 * unref'd timer every `stallMs / 10` that bumps a shared counter; the worker is unref'd too,
 * so neither keeps a finished process alive.
 */
export class StallWatchdog {
  readonly #timer: NodeJS.Timeout;
  readonly #worker: Worker;
  readonly #id = `${process.pid}:${nextId++}`;

  constructor(options: WatchdogOptions) {
    const beat = new Int32Array(new SharedArrayBuffer(4));
    const pollMs = Math.max(5, Math.floor(options.stallMs / 10));
    this.#timer = setInterval(() => Atomics.add(beat, 0, 1), pollMs);
    this.#timer.unref();
    hooks().set(this.#id, (stack, elapsedMs) => {
      const span = trace.getActiveSpan();
      if (span === undefined || !span.isRecording()) return undefined;
      span.addEvent('periscope.event_loop.stall', { 'periscope.stall.elapsed_ms': elapsedMs, 'periscope.stall.stack': stack });
      const c = span.spanContext();
      return { traceId: c.traceId, spanId: c.spanId };
    });
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { beat, stallMs: options.stallMs, pollMs, id: this.#id }, name: 'periscope-stall-watchdog' });
    this.#worker.unref();
    this.#worker.on('message', (m: { durationMs: number; stack: string; context?: { traceId: string; spanId: string }; error?: string }) => {
      try {
        options.onStall({ durationMs: m.durationMs, stack: m.stack, traceId: m.context?.traceId, spanId: m.context?.spanId, error: m.error });
      } catch (error) {
        options.report(error, 'stall-watchdog');
      }
    });
    this.#worker.on('error', (error) => options.report(error, 'stall-watchdog'));
  }

  /** Stops the thread and the timer. Idempotent. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    hooks().delete(this.#id);
    await this.#worker.terminate();
  }
}
