import type { Server } from 'node:http';
import type { RequestHook } from '../core/index.js';

/** The one state every probe follows. */
export type LifecycleState = 'starting' | 'ready' | 'draining' | 'stopped';

/**
 * starting -> ready -> draining -> stopped. "ready" is not stored: it is read when asked,
 * from the servers periscope knows (all listening) and the user's startup tasks (all
 * settled), so no event has to be caught at the right moment.
 */
export class Lifecycle {
  readonly #servers = new Set<Server>();
  /** How to close a server when its framework must close it (Fastify runs its onClose hooks). */
  readonly #closers = new Map<Server, () => Promise<unknown>>();
  /** Servers seen listening once: when one stops, it was closed, not slow to start. */
  readonly #listened = new WeakSet<Server>();
  #pending = 0;
  readonly #failed: string[] = [];
  #phase: 'running' | 'draining' | 'stopped' = 'running';

  trackServer(server: Server, close?: () => Promise<unknown>): void {
    this.#servers.add(server);
    if (close !== undefined) this.#closers.set(server, close);
  }

  /** The framework's own close for `server`, when it has one. */
  closerOf(server: Server): (() => Promise<unknown>) | undefined {
    return this.#closers.get(server);
  }

  servers(): Server[] {
    return [...this.#servers];
  }

  /** Readiness waits for `task`; a rejected task keeps the service not ready. */
  startup(name: string, task: PromiseLike<unknown>, onError: (error: unknown) => void): void {
    this.#pending++;
    Promise.resolve(task).then(
      () => {
        this.#pending--;
      },
      (error: unknown) => {
        this.#pending--;
        this.#failed.push(name);
        onError(error);
      },
    );
  }

  get state(): LifecycleState {
    if (this.#phase !== 'running') return this.#phase;
    return this.notReadyReason() === undefined ? 'ready' : 'starting';
  }

  /** Why the service is not ready yet, or undefined when it is (or is past readiness). */
  notReadyReason(): string | undefined {
    if (this.#failed.length > 0) return `startup task ${this.#failed.join(', ')} failed`;
    if (this.#pending > 0) return `${this.#pending} startup task${this.#pending === 1 ? '' : 's'} pending`;
    // An Express app's server is learnt at its first request; until then nothing is known
    // to be not listening, and an in-band probe proves it listens.
    for (const s of this.#servers) {
      if (s.listening) this.#listened.add(s);
      else return this.#listened.has(s) ? 'server closed' : 'server not listening yet';
    }
    return undefined;
  }

  /** True once the listeners are closing: every finished response should let its socket go. */
  closing = false;

  /**
   * A request hook that closes keep-alive sockets as soon as their response ends while the
   * servers close (Node keeps them open otherwise); it reads one boolean per request.
   */
  readonly requestHook: RequestHook = {
    onEnd: (): void => {
      if (!this.closing) return;
      for (const s of this.#servers) s.closeIdleConnections();
    },
  };

  drain(): void {
    if (this.#phase === 'running') this.#phase = 'draining';
  }

  stop(): void {
    this.#phase = 'stopped';
  }
}
