import { EventEmitter } from 'node:events';
import type { Cluster } from 'node:cluster';
import { createServer } from 'node:http';
import { Registry } from '@prometheus-io/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClusterMerger, clusterPrimaryConcern, Fleet, resolvePrimary } from '../../src/cluster/index.js';
import { compose, Reporter } from '../../src/core/index.js';
import { TAG } from '../../src/cluster/protocol.js';
import { listen, parseExposition, value } from '../helpers.js';

/** A stand-in for a cluster Worker: records what the primary sends, dies on demand. */
class FakeWorker extends EventEmitter {
  static next = 1;
  readonly id = FakeWorker.next++;
  readonly process = { pid: 1000 + this.id };
  readonly sent: { type: string; id?: number; slot?: number }[] = [];
  dead = false;
  isDead(): boolean {
    return this.dead;
  }
  isConnected(): boolean {
    return !this.dead;
  }
  send(message: { type: string }, _handle: unknown, cb: (e: Error | null) => void): boolean {
    this.sent.push(message);
    cb(null);
    return true;
  }
}

class FakeCluster extends EventEmitter {
  workers: Record<number, FakeWorker> = {};
  fork(): FakeWorker {
    const w = new FakeWorker();
    this.workers[w.id] = w;
    this.emit('fork', w);
    return w;
  }
  say(w: FakeWorker, message: object): void {
    this.emit('message', w, { tag: TAG, ...message });
  }
  kill(w: FakeWorker, code: number | null = null, signal: string | null = 'SIGKILL'): void {
    w.dead = true;
    delete this.workers[w.id];
    this.emit('exit', w, code, signal);
  }
}

const counter = (n: number) => [{ name: 'jobs_total', help: 'Jobs.', type: 'counter' as const, labels: [''], values: [n] }];

function setup() {
  const cluster = new FakeCluster();
  const merger = new ClusterMerger(() => {});
  const fleet = new Fleet(cluster as unknown as Cluster, merger, 2000, () => {});
  fleet.attach();
  return { cluster, merger, fleet };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Fleet', () => {
  it('tells of each worker that leaves, once, with its slot, pid and how it ended', () => {
    const cluster = new FakeCluster();
    const exits: unknown[][] = [];
    const fleet = new Fleet(cluster as unknown as Cluster, new ClusterMerger(() => {}), 2000, () => {}, (...args) => exits.push(args));
    fleet.attach();
    const [a, b] = [cluster.fork(), cluster.fork()];
    cluster.kill(b);
    cluster.kill(b);
    cluster.kill(a, 1, null);
    // Found dead by a fork before its 'exit' came: told without code or signal.
    const c = cluster.fork();
    c.dead = true;
    cluster.fork();
    expect(exits).toEqual([
      [1, b.process.pid, null, 'SIGKILL'],
      [0, a.process.pid, 1, null],
      [0, c.process.pid, undefined, undefined],
    ]);
    fleet.detach();
  });

  it('gives each worker the lowest free slot; a replacement takes the slot of the worker it replaces', () => {
    const { cluster, fleet } = setup();
    const [a, b, c] = [cluster.fork(), cluster.fork(), cluster.fork()];
    for (const w of [a, b, c]) cluster.say(w, { type: 'hello', state: 'ready' });
    expect(a.sent).toEqual([{ tag: TAG, type: 'welcome', wire: 2, slot: 0 }]);
    expect(c.sent).toEqual([{ tag: TAG, type: 'welcome', wire: 2, slot: 2 }]);
    // The app's own 'exit' listener forks before the fleet's has run: the slot is freed anyway.
    b.dead = true;
    const d = cluster.fork();
    cluster.say(d, { type: 'hello', state: 'starting' });
    expect(d.sent).toEqual([{ tag: TAG, type: 'welcome', wire: 2, slot: 1 }]);
    expect(fleet.workers().map((w) => [w.worker, w.pid, w.state])).toEqual([
      [0, a.process.pid, 'ready'],
      [1, d.process.pid, 'starting'],
      [2, c.process.pid, 'ready'],
    ]);
    expect(fleet.readyCount()).toBe(2);
  });

  it('waits for the workers at most collectTimeoutMs; a late worker is reported, its last values kept', async () => {
    vi.useFakeTimers();
    const { cluster, fleet } = setup();
    const [a, b] = [cluster.fork(), cluster.fork()];
    for (const w of [a, b]) cluster.say(w, { type: 'hello', state: 'ready' });
    const first = fleet.collect();
    cluster.say(a, { type: 'values', id: a.sent.at(-1)!.id, state: 'ready', families: counter(1) });
    cluster.say(b, { type: 'values', id: b.sent.at(-1)!.id, state: 'ready', families: counter(2) });
    expect((await first).responded).toBe(2);

    const second = fleet.collect();
    cluster.say(a, { type: 'values', id: a.sent.at(-1)!.id, state: 'ready', families: counter(5) });
    await vi.advanceTimersByTimeAsync(1999);
    let settled = false;
    void second.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const r = await second;
    expect([r.expected, r.responded, r.late]).toEqual([2, 1, [1]]);
    expect([...r.up]).toEqual([
      [0, 1],
      [1, 0],
    ]);
    expect(r.workers.map((w) => [w.slot, w.fresh, w.snapshot?.[0]?.values[0]])).toEqual([
      [0, true, 5],
      [1, false, 2],
    ]);
    // The late answer still brings the newer values.
    cluster.say(b, { type: 'values', id: b.sent.at(-1)!.id, state: 'ready', families: counter(9) });
    cluster.kill(a);
    const third = fleet.collect();
    cluster.say(b, { type: 'values', id: b.sent.at(-1)!.id, state: 'ready', families: counter(10) });
    expect([...(await third).up]).toEqual([
      [0, 0],
      [1, 1],
    ]);
  });

  it('keeps label lists a worker left out; a stale answer still updates them', async () => {
    const { cluster, fleet } = setup();
    const a = cluster.fork();
    cluster.say(a, { type: 'hello', state: 'ready' });
    const family = (extra: object) => ({ name: 'jobs_total', help: 'Jobs.', type: 'counter', ...extra });
    const first = fleet.collect();
    const id1 = a.sent.at(-1)!.id!;
    cluster.say(a, { type: 'values', id: id1, state: 'ready', families: [family({ labels: ['q="a"'], values: [1] })] });
    await first;
    const second = fleet.collect();
    cluster.say(a, { type: 'values', id: a.sent.at(-1)!.id, state: 'ready', families: [family({ values: [2] })] });
    expect((await second).workers[0]!.snapshot).toEqual([family({ labels: ['q="a"'], values: [2] })]);
    // An answer to an old collect arrives late with a new label list: not taken as the values,
    // but the next answer leaves that list out.
    cluster.say(a, { type: 'values', id: id1, state: 'ready', families: [family({ labels: ['q="a"', 'q="b"'], values: [2, 1] })] });
    const third = fleet.collect();
    cluster.say(a, { type: 'values', id: a.sent.at(-1)!.id, state: 'ready', families: [family({ values: [3, 1] })] });
    expect((await third).workers[0]!.snapshot).toEqual([family({ labels: ['q="a"', 'q="b"'], values: [3, 1] })]);
  });

  it("reuses a worker's value arrays once no scrape reads them, never while one does", async () => {
    const { cluster, fleet } = setup();
    const a = cluster.fork();
    cluster.say(a, { type: 'hello', state: 'ready' });
    const big = (v: number) => [{ name: 'h_total', help: 'H.', type: 'counter', labels: ['a="1"', 'a="2"'], parts: [[v], [v + 1]] }];
    const scrape = async (v: number) => {
      const r = fleet.collect();
      cluster.say(a, { type: 'values', id: a.sent.at(-1)!.id, state: 'ready', families: big(v) });
      return r;
    };
    const values = (r: Awaited<ReturnType<typeof fleet.collect>>) => r.workers[0]!.snapshot![0]!.values;
    const first = await scrape(1);
    const held = values(first);
    expect(Array.from(held)).toEqual([1, 2]);
    // The first scrape has not released: the next answers get arrays of their own.
    const second = await scrape(10);
    expect(values(second)).not.toBe(held);
    first.release();
    second.release();
    const third = await scrape(20);
    // The first scrape's array, written into again.
    expect(values(third)).toBe(held);
    expect(Array.from(held)).toEqual([20, 21]);
    third.release();
    third.release(); // once only
    const fourth = await scrape(30);
    expect(Array.from(values(fourth))).toEqual([30, 31]);
    expect(Array.from(values(third))).toEqual([20, 21]);
  });

  it('a dead worker stops the wait at once; its counters join the slot retired totals', async () => {
    const { cluster, fleet, merger } = setup();
    const [a, b] = [cluster.fork(), cluster.fork()];
    for (const w of [a, b]) cluster.say(w, { type: 'hello', state: 'ready' });
    const first = fleet.collect();
    cluster.say(a, { type: 'values', id: a.sent.at(-1)!.id, state: 'ready', families: counter(4) });
    cluster.say(b, { type: 'values', id: b.sent.at(-1)!.id, state: 'ready', families: counter(6) });
    await first;
    const second = fleet.collect();
    cluster.say(a, { type: 'values', id: a.sent.at(-1)!.id, state: 'ready', families: counter(4) });
    cluster.kill(b);
    const r = await second;
    expect(r.responded).toBe(1);
    expect(merger.retiredSlots()).toEqual([1]);
    const metrics = await parseExposition(merger.write([], r.workers));
    expect(value(metrics, 'jobs_total', { worker: '1' })).toBe(6);
  });
});

describe('clusterPrimaryConcern', () => {
  it("onWorkerTimeout 'fail' answers 503 naming the late workers; readiness follows minReadyWorkers", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const cluster = new FakeCluster();
    const registry = new Registry();
    const reporter = new Reporter(undefined, registry);
    const options = resolvePrimary({ metrics: { port: 0 }, cluster: { onWorkerTimeout: 'fail', minReadyWorkers: 2, collectTimeoutMs: 100 } }, '1.0.0');
    const concern = clusterPrimaryConcern(
      { service: { name: 's', version: '1', commit: 'c' }, framework: 'node-http', registry, logger: console, report: reporter.report, notice: () => {}, warn: () => {} },
      options,
      { cluster: cluster as unknown as Cluster, snapshot: async () => [] },
    );
    const composition = compose([concern], reporter.report);
    const endpoints = composition.management.endpointsFor(0, undefined, 'cluster');
    const server = createServer((req, res) => endpoints.run(endpoints.match(req.url)!, req, res));
    const base = await listen(server);
    try {
      const [a, b] = [cluster.fork(), cluster.fork()];
      cluster.say(a, { type: 'hello', state: 'ready' });
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      cluster.say(b, { type: 'hello', state: 'ready' });
      expect(await (await fetch(`${base}/readyz`)).text()).toBe('ok: 2 of 2 workers ready (at least 2 needed)\n');
      const scrape = fetch(`${base}/metrics`);
      await vi.waitFor(() => expect(b.sent.at(-1)?.type).toBe('collect'));
      cluster.say(a, { type: 'values', id: a.sent.at(-1)!.id, state: 'ready', families: [] });
      await vi.advanceTimersByTimeAsync(100);
      const res = await scrape;
      expect(res.status).toBe(503);
      expect(await res.text()).toBe("worker 1 did not answer within 100 ms (cluster.onWorkerTimeout: 'fail')\n");
      concern.drain();
      expect(await (await fetch(`${base}/readyz`)).text()).toBe('not ready: shutting down\n');
    } finally {
      concern.close();
      server.close();
    }
  });
});
