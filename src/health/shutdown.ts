import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Lifecycle } from './lifecycle.js';
import type { ResolvedShutdownOptions } from './options.js';
import type { LoggerLike, OpenRequests, ShutdownStep } from '../core/index.js';


/** What a shutdown did, with its timings in milliseconds. */
export interface ShutdownReport {
  /** `'signal SIGTERM'`, `'shutdown() called'`. */
  readonly reason: string;
  /** 0, or 1 when the deadline passed or a hook or flush step failed. */
  readonly code: 0 | 1;
  readonly timedOut: boolean;
  /** Hooks and flush steps that threw or rejected. */
  readonly failures: number;
  readonly timings: { readonly drainDelayMs: number; readonly drainMs: number; readonly hooksMs: number; readonly flushMs: number; readonly totalMs: number };
}

export interface ShutdownDeps {
  readonly config: ResolvedShutdownOptions;
  readonly lifecycle: Lifecycle;
  readonly logger: LoggerLike;
  /**
   * periscope's own steps after the app is drained and the user's hooks ran: every `close`
   * step (timers, management servers), then every `flush` step (spans, then logs).
   */
  readonly steps: (phase: 'close' | 'flush') => readonly ShutdownStep[];
  /** The app's open requests: at the deadline each is ended (counted, logged, traced) before the flush. */
  readonly requests?: OpenRequests;
  /** Ends the process. Default `process.exit`. */
  readonly exit?: (code: number) => void;
}

/** After the deadline, flush steps that have not run still get this long. */
const FLUSH_GRACE_MS = 1000;
/** How often idle keep-alive sockets are closed while servers drain. */
const IDLE_SWEEP_MS = 100;

const round = (ms: number) => Math.round(ms);

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Stops accepting connections and resolves once every connection has closed. Sockets that
 * go idle (keep-alive between requests) are closed as they appear, so an in-flight request
 * finishes and its connection then goes away.
 */
function drainServer(server: Server, close: (() => Promise<unknown>) | undefined): Promise<void> {
  if (!server.listening) {
    server.closeIdleConnections();
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    const done = (): void => {
      clearInterval(sweep);
      resolve();
    };
    // A framework's own close (Fastify's) closes the server and then runs the app's onClose hooks.
    if (close !== undefined) close().then(done, done);
    else server.close(done);
    server.closeIdleConnections();
  });
}

/**
 * The graceful shutdown sequence: readiness off, drain delay, stop accepting and let
 * in-flight requests finish within a deadline, user hooks, flush steps, exit.
 */
export class GracefulShutdown {
  readonly #deps: ShutdownDeps;
  readonly #hooks: (() => unknown)[] = [];
  #running: Promise<ShutdownReport> | undefined;
  #exitOnFinish = false;
  readonly #onSignal = (signal: NodeJS.Signals) => this.#signal(signal);

  constructor(deps: ShutdownDeps) {
    this.#deps = deps;
  }

  /** Runs after the app is drained, in registration order. */
  onShutdown(fn: () => unknown): void {
    this.#hooks.push(fn);
  }

  /** Listens for the configured signals. */
  installSignals(): void {
    for (const s of this.#deps.config.signals) process.on(s, this.#onSignal);
  }

  /**
   * Once the app has closed every server periscope knows, outside a shutdown, its signals are
   * no longer periscope's to handle (and a process that instruments many apps, such as a test
   * run, does not pile up listeners).
   */
  releaseWhenClosed(server: Server): void {
    server.once('close', () => {
      if (this.#running === undefined && this.#deps.lifecycle.servers().every((s) => !s.listening)) this.removeSignals();
    });
  }

  removeSignals(): void {
    for (const s of this.#deps.config.signals) process.removeListener(s, this.#onSignal);
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  #signal(signal: NodeJS.Signals): void {
    const { logger, config } = this.#deps;
    if (this.#running !== undefined) {
      logger.warn({ signal }, 'second signal during shutdown: closing every connection and exiting now');
      void this.#cutOff(this.#deps.lifecycle.servers(), 'a second signal')
        .then(() => this.#flush(FLUSH_GRACE_MS))
        .then(() => {
          if (config.exit) (this.#deps.exit ?? process.exit)(1);
        });
      return;
    }
    this.#exitOnFinish = config.exit;
    void this.run(`signal ${signal}`);
  }

  /**
   * Closes every connection; each request still open ends at once as cut off (503 unless a
   * status was sent, its error saying why), so it is counted, logged and traced before the flush.
   */
  async #cutOff(servers: readonly Server[], why: string): Promise<void> {
    const requests = this.#deps.requests;
    if (requests !== undefined) requests.cutOff ??= new Error(`request cut off by ${why}`);
    for (const server of servers) server.closeAllConnections();
    await requests?.settle();
  }

  /** Runs every flush step within `budget` ms; returns how many failed. */
  async #flush(budget: number): Promise<number> {
    let failures = 0;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, budget);
    });
    await Promise.race([
      (async () => {
        failures = await this.#runSteps('flush', 'shutdown flush step failed');
      })(),
      deadline,
    ]);
    clearTimeout(timer);
    return failures;
  }

  /** Runs the user's hooks in order; once the deadline has passed, those not started are skipped. */
  async #runHooks(timedOut: () => boolean): Promise<{ failures: number; skipped: number }> {
    let failures = 0;
    let skipped = 0;
    for (const hook of this.#hooks) {
      // Past the deadline nothing more starts in the background of the exit.
      if (timedOut()) {
        skipped++;
        continue;
      }
      try {
        await hook();
      } catch (error) {
        failures++;
        this.#deps.logger.error({ err: describe(error) }, 'shutdown hook failed');
      }
    }
    return { failures, skipped };
  }

  /** Runs every concern's steps of `phase`, in order; returns how many failed (each logged). */
  async #runSteps(phase: 'close' | 'flush', message: string): Promise<number> {
    let failures = 0;
    for (const step of this.#deps.steps(phase)) {
      try {
        await step.run();
      } catch (error) {
        failures++;
        this.#deps.logger.error({ err: describe(error), step: step.name }, message);
      }
    }
    return failures;
  }

  /** Runs the sequence once; later calls get the same result. */
  run(reason: string): Promise<ShutdownReport> {
    this.#running ??= this.#sequence(reason);
    return this.#running;
  }

  async #sequence(reason: string): Promise<ShutdownReport> {
    const { lifecycle, logger, config } = this.#deps;
    const t0 = performance.now();
    lifecycle.drain();
    // A signal's shutdown is news for the operator; one the app started itself is the app's
    // to tell, so periscope keeps its own start and end lines at debug (failures stay loud).
    const note = (this.#exitOnFinish || reason.startsWith('signal') ? logger.info : logger.debug).bind(logger);
    note({ reason, drain_delay_ms: config.drainDelayMs, timeout_ms: config.timeoutMs }, 'shutdown started: readiness now fails');
    if (config.drainDelayMs > 0) await delay(config.drainDelayMs);
    const t1 = performance.now();

    let timedOut = false;
    let failures = 0;
    let skipped = 0;
    let deadlineTimer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      deadlineTimer = setTimeout(() => resolve('deadline'), config.timeoutMs);
    });
    let t2 = t1;
    let t3 = t1;
    const servers = lifecycle.servers();
    logger.debug({ servers: servers.length, drain_delay_ms: round(t1 - t0) }, 'stopped accepting connections; waiting for in-flight requests');
    lifecycle.closing = true;
    const work = (async () => {
      await Promise.all(servers.map((server) => drainServer(server, lifecycle.closerOf(server))));
      t2 = performance.now();
      logger.debug({ servers: servers.length, drain_ms: round(t2 - t1) }, 'in-flight requests finished; servers closed');
      const hooks = await this.#runHooks(() => timedOut);
      failures += hooks.failures;
      skipped = hooks.skipped;
      t3 = performance.now();
      if (skipped > 0) logger.error({ skipped }, 'shutdown hooks skipped: the deadline had passed');
      return 'done' as const;
    })();
    if ((await Promise.race([work, deadline])) === 'deadline') {
      timedOut = true;
      const now = performance.now();
      if (t2 === t1) t2 = now;
      t3 = now;
      logger.error({ timeout_ms: config.timeoutMs, open_requests: this.#deps.requests?.count ?? 0 }, 'shutdown deadline passed: closing every remaining connection');
      await this.#cutOff(servers, `the shutdown deadline (${config.timeoutMs} ms)`);
    }
    clearTimeout(deadlineTimer);

    lifecycle.stop();
    failures += await this.#runSteps('close', 'stopping periscope failed');
    const timings = {
      drainDelayMs: round(t1 - t0),
      drainMs: round(t2 - t1),
      hooksMs: round(t3 - t2),
      flushMs: 0,
      totalMs: 0,
    };
    note(
      { reason, code: timedOut || failures > 0 ? 1 : 0, timed_out: timedOut, drain_delay_ms: timings.drainDelayMs, drain_ms: timings.drainMs, hooks_ms: timings.hooksMs, total_ms: round(performance.now() - t0) },
      'shutdown complete',
    );
    // Flushes come last so that the lines above reach the log and the spans of the last
    // requests reach the collector; after a missed deadline they still get a short grace.
    const t4 = performance.now();
    failures += await this.#flush(timedOut ? FLUSH_GRACE_MS : Math.max(FLUSH_GRACE_MS, config.timeoutMs - (t4 - t1)));
    timings.flushMs = round(performance.now() - t4);
    timings.totalMs = round(performance.now() - t0);
    this.removeSignals();
    const report: ShutdownReport = Object.freeze({ reason, code: timedOut || failures > 0 ? 1 : 0, timedOut, failures, timings: Object.freeze(timings) });
    if (this.#exitOnFinish) (this.#deps.exit ?? process.exit)(report.code);
    return report;
  }
}

function describe(error: unknown): { message: string; stack?: string } {
  if (error instanceof Error) return { message: error.message, stack: error.stack };
  return { message: String(error) };
}

/** Facts about the process tree, for {@link signalProxyWarning}. */
export interface ProcessFacts {
  readonly pid: number;
  readonly ppid: number;
  /** `/proc/1/cmdline` with NULs as spaces; undefined off Linux. */
  readonly pid1Command: string | undefined;
}

export function readProcessFacts(): ProcessFacts {
  let pid1Command: string | undefined;
  try {
    pid1Command = readFileSync('/proc/1/cmdline', 'utf8').split('\0').join(' ').trim();
  } catch {
    pid1Command = undefined;
  }
  return { pid: process.pid, ppid: process.ppid, pid1Command };
}

/**
 * Says why SIGTERM may never reach this process, or undefined. In a container the runtime
 * signals PID 1 only; when PID 1 is a package manager or a shell running node as its child,
 * the signal may be lost or the child killed without a drain.
 */
export function signalProxyWarning(facts: ProcessFacts): string | undefined {
  if (facts.pid === 1 || facts.ppid !== 1 || facts.pid1Command === undefined) return undefined;
  const cmd = facts.pid1Command;
  const first = cmd.split(' ')[0] ?? '';
  const base = first.slice(first.lastIndexOf('/') + 1);
  const viaPackageManager = /(^|[\s/])(npm|npx|yarn|pnpm)(\s|$)/.test(cmd) || /npm-cli\.js|yarn\.js|pnpm\.c?js/.test(cmd);
  const viaShell = ['sh', 'bash', 'dash', 'ash', 'zsh'].includes(base);
  if (!viaPackageManager && !viaShell) return undefined;
  return (
    `this process is a child of PID 1 (${JSON.stringify(cmd.length > 80 ? `${cmd.slice(0, 77)}...` : cmd)}), which may not forward SIGTERM: ` +
    'graceful shutdown may never start. Start node directly (CMD ["node", "server.js"]) or under an init such as tini (docker run --init).'
  );
}
