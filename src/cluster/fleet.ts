import type { Cluster, Worker } from 'node:cluster';
import type { RegistrySnapshot } from '../core/snapshot.js';
import type { ClusterMerger, WorkerValues } from './merge.js';
import { isMessage, TAG } from './protocol.js';
import { SnapshotDecoder } from './wire.js';
import type { LifecycleStateName, PrimaryMessage, WorkerMessage } from './protocol.js';

interface Member {
  readonly worker: Worker;
  readonly slot: number;
  /** True once the worker's periscope said hello (a worker without periscope never does). */
  hello: boolean;
  state: LifecycleStateName;
  last: RegistrySnapshot | undefined;
  /** Its `values` messages, each in order, back to snapshots (label lists sent once). */
  readonly decoder: SnapshotDecoder;
  lastId: number;
  /** Whether it answered the last collect in time; undefined before the first. */
  up: boolean | undefined;
  /** Value arrays of its earlier snapshots that no scrape reads any more, for the next ones. */
  readonly spare: Float64Array[];
}

/** Most value arrays a worker keeps spare. */
const MAX_SPARE = 16;

/** Its Float64Arrays (families sent in parts). */
function arraysOf(snapshot: RegistrySnapshot): Float64Array[] {
  const out: Float64Array[] = [];
  for (const f of snapshot) if (f.values instanceof Float64Array) out.push(f.values);
  return out;
}

interface Pending {
  readonly waiting: Set<Member>;
  readonly fresh: Set<Member>;
  finish(): void;
}

/** One worker as `/healthz` lists it. */
export interface WorkerInfo {
  readonly worker: number;
  readonly pid: number | undefined;
  /** The worker's lifecycle state as it last said; `starting` until its periscope said hello. */
  readonly state: LifecycleStateName;
  /** Whether it answered the last scrape in time (null before the first scrape). */
  readonly up: boolean | null;
}

export interface CollectResult {
  readonly workers: readonly WorkerValues[];
  /** Live workers. */
  readonly expected: number;
  /** Those that answered in time. */
  readonly responded: number;
  /** Slots of the live workers that did not. */
  readonly late: readonly number[];
  /** Every slot ever used, with 1 when its worker answered this collect, else 0. */
  readonly up: ReadonlyMap<number, 0 | 1>;
  /**
   * Call once the scrape has written everything out: the workers' value arrays may then be
   * written into again by later answers. Without it they are left to the garbage collector.
   */
  release(): void;
}

/**
 * The primary's view of its workers: a stable slot for each (the lowest free one, so a
 * restarted worker takes the slot its predecessor left), their lifecycle states, and the
 * collect with a deadline. Exited workers' last values go to the merger's retired totals.
 */
export class Fleet {
  readonly #cluster: Cluster;
  readonly #merger: ClusterMerger;
  readonly #timeoutMs: number;
  readonly #report: (error: unknown, where: string) => void;
  readonly #exited: ((slot: number, pid: number | undefined, code: number | null | undefined, signal: string | null | undefined) => void) | undefined;
  readonly #members = new Map<Worker, Member>();
  readonly #bySlot = new Map<number, Member>();
  readonly #known = new Set<number>();
  readonly #pending = new Map<number, Pending>();
  /** Snapshots a scrape is reading (see CollectResult.release), with how many scrapes. */
  readonly #leased = new Map<RegistrySnapshot, number>();
  #seq = 0;

  /** `exited`: told once of each worker that leaves the fleet (its slot, pid, and exit code or signal when known). */
  constructor(
    cluster: Cluster,
    merger: ClusterMerger,
    timeoutMs: number,
    report: (error: unknown, where: string) => void,
    exited?: (slot: number, pid: number | undefined, code: number | null | undefined, signal: string | null | undefined) => void,
  ) {
    this.#exited = exited;
    this.#cluster = cluster;
    this.#merger = merger;
    this.#timeoutMs = timeoutMs;
    this.#report = report;
  }

  readonly #onFork = (worker: Worker): void => void this.#admit(worker);
  readonly #onExit = (worker: Worker, code?: number | null, signal?: string | null): void => {
    const m = this.#members.get(worker);
    if (m !== undefined) this.#leave(m, code, signal);
  };
  readonly #onMessage = (worker: Worker, message: unknown): void => {
    if (!isMessage(message)) return;
    const m = this.#admit(worker);
    if (m === undefined) return;
    const msg = message as WorkerMessage;
    if (msg.type === 'hello') {
      m.hello = true;
      m.state = msg.state;
      this.#send(m, { tag: TAG, type: 'welcome', slot: m.slot, wire: 2 });
    } else if (msg.type === 'state') {
      m.state = msg.state;
    } else if (msg.type === 'values') {
      m.hello = true;
      m.state = msg.state;
      // A late answer still brings newer values: counters stay as fresh as they can be.
      // Every message is decoded, a stale one too: a later one may leave out its label lists.
      const snapshot = m.decoder.decode(msg.families, (n) => this.#array(m, n));
      if (msg.id > m.lastId && snapshot !== undefined) {
        const before = m.last;
        m.last = snapshot;
        m.lastId = msg.id;
        if (before !== undefined) this.#spare(m, before);
      } else if (snapshot !== undefined) this.#spare(m, snapshot);
      const p = this.#pending.get(msg.id);
      if (p !== undefined && p.waiting.delete(m)) {
        p.fresh.add(m);
        if (p.waiting.size === 0) p.finish();
      }
    }
  };

  /**
   * A Float64Array of `n` values for `m`'s next snapshot: a spare one when there is (series
   * rarely change, so neither does `n`). Allocated afresh at every scrape, they were only freed
   * by V8's full collections, once the primary had put some 60 MB more outside its heap.
   */
  #array(m: Member, n: number): Float64Array {
    for (let i = m.spare.length - 1; i >= 0; i--) {
      const a = m.spare[i]!;
      if (a.length !== n) continue;
      m.spare.splice(i, 1);
      return a;
    }
    return new Float64Array(n);
  }

  /** `snapshot` of `m` is no longer its latest: its arrays become spare unless a scrape still reads them. */
  #spare(m: Member, snapshot: RegistrySnapshot): void {
    if (this.#leased.has(snapshot) || m.last === snapshot) return;
    for (const a of arraysOf(snapshot)) if (m.spare.length < MAX_SPARE) m.spare.push(a);
  }

  /** Starts following the cluster (workers forked before are adopted, in id order). */
  attach(): void {
    this.#cluster.on('fork', this.#onFork);
    this.#cluster.on('exit', this.#onExit);
    this.#cluster.on('message', this.#onMessage);
    const existing = Object.values(this.#cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    for (const w of existing.sort((a, b) => a.id - b.id)) this.#admit(w);
  }

  detach(): void {
    this.#cluster.off('fork', this.#onFork);
    this.#cluster.off('exit', this.#onExit);
    this.#cluster.off('message', this.#onMessage);
    for (const p of this.#pending.values()) p.finish();
  }

  /** The member of `worker`, giving it a slot on first sight; undefined for a dead worker. */
  #admit(worker: Worker): Member | undefined {
    const known = this.#members.get(worker);
    if (known !== undefined) return known;
    if (worker.isDead()) return undefined;
    // A worker that died without our 'exit' listener having run yet (the app's own 'exit'
    // listener forks its replacement first) frees its slot here, so the replacement takes it.
    for (const m of this.#members.values()) if (m.worker.isDead()) this.#leave(m);
    let slot = 0;
    while (this.#bySlot.has(slot)) slot++;
    const m: Member = { worker, slot, hello: false, state: 'starting', last: undefined, decoder: new SnapshotDecoder(), lastId: 0, up: undefined, spare: [] };
    this.#members.set(worker, m);
    this.#bySlot.set(slot, m);
    this.#known.add(slot);
    return m;
  }

  #leave(m: Member, code?: number | null, signal?: string | null): void {
    if (this.#members.get(m.worker) !== m) return;
    this.#members.delete(m.worker);
    this.#bySlot.delete(m.slot);
    try {
      this.#exited?.(m.slot, m.worker.process.pid, code, signal);
    } catch (error) {
      this.#report(error, 'cluster-exit');
    }
    this.#merger.retire(m.slot, m.last);
    for (const p of this.#pending.values()) {
      if (p.waiting.delete(m) && p.waiting.size === 0) p.finish();
    }
  }

  #send(m: Member, message: PrimaryMessage): boolean {
    if (!m.worker.isConnected()) return false;
    try {
      m.worker.send(message, undefined, (error: Error | null) => {
        if (error) this.#report(error, 'cluster-send');
      });
      return true;
    } catch (error) {
      this.#report(error, 'cluster-send');
      return false;
    }
  }

  /** Live workers with their slots and states, in slot order. */
  workers(): WorkerInfo[] {
    return [...this.#bySlot.values()]
      .sort((a, b) => a.slot - b.slot)
      .map((m) => ({ worker: m.slot, pid: m.worker.process.pid, state: m.hello ? m.state : 'starting', up: m.up ?? null }));
  }

  /** Live workers whose periscope said it is ready. */
  readyCount(): number {
    let n = 0;
    for (const m of this.#members.values()) if (m.hello && m.state === 'ready') n++;
    return n;
  }

  /** Live workers, for the shutdown. */
  liveWorkers(): Worker[] {
    return [...this.#members.keys()];
  }

  /**
   * Asks every live worker for its values and waits for them, at most `collectTimeoutMs`. A
   * worker that does not answer in time keeps its last values (the merger serves its counters
   * flat and leaves out its gauges); it never fails the collect.
   */
  async collect(): Promise<CollectResult> {
    const id = ++this.#seq;
    const live = [...this.#members.values()];
    const waiting = new Set<Member>();
    const fresh = new Set<Member>();
    await new Promise<void>((resolve) => {
      const p: Pending = {
        waiting,
        fresh,
        finish: () => {
          clearTimeout(timer);
          this.#pending.delete(id);
          resolve();
        },
      };
      const timer = setTimeout(p.finish, this.#timeoutMs);
      for (const m of live) if (m.hello && this.#send(m, { tag: TAG, type: 'collect', id })) waiting.add(m);
      if (waiting.size === 0) return p.finish();
      this.#pending.set(id, p);
    });
    const up = new Map<number, 0 | 1>();
    for (const slot of this.#known) up.set(slot, 0);
    const late: number[] = [];
    const workers: WorkerValues[] = [];
    for (const m of live) {
      if (this.#members.get(m.worker) !== m) continue;
      const ok = fresh.has(m);
      m.up = ok;
      up.set(m.slot, ok ? 1 : 0);
      if (!ok) late.push(m.slot);
      workers.push({ slot: m.slot, snapshot: m.last, fresh: ok });
    }
    const leases: [Member, RegistrySnapshot][] = [];
    for (const m of live) {
      if (m.last === undefined || this.#members.get(m.worker) !== m) continue;
      leases.push([m, m.last]);
      this.#leased.set(m.last, (this.#leased.get(m.last) ?? 0) + 1);
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      for (const [m, s] of leases) {
        const n = this.#leased.get(s)! - 1;
        if (n > 0) this.#leased.set(s, n);
        else {
          this.#leased.delete(s);
          this.#spare(m, s);
        }
      }
    };
    return { workers, expected: workers.length, responded: workers.length - late.length, late: late.sort((a, b) => a - b), up, release };
  }
}
