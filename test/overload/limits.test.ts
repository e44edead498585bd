import { describe, expect, test } from 'vitest';
import { AimdLimit, FixedLimit, Gradient2Limit, Limiter } from '../../src/overload/index.js';
import type { LimitAlgorithm } from '../../src/overload/index.js';

/**
 * A closed-loop load on a simulated service, driven by a fake clock (event times only, no
 * timers): `clients` clients each send a request, wait for its answer, and send the next; a
 * shed request is retried `retryMs` later. The service's latency is a function of the
 * requests in flight when a request is admitted.
 */
class Simulation {
  now = 0;
  readonly #events: { at: number; run: () => void }[] = [];
  /** Latencies of admitted requests completed since the last `reset()`. */
  latencies: number[] = [];
  limits: number[] = [];
  constructor(
    readonly limiter: Limiter,
    public latency: (inflight: number) => number,
    readonly retryMs = 1,
  ) {}

  #at(at: number, run: () => void): void {
    // Kept sorted by time (stable for equal times); the queue holds one event per client.
    let lo = 0;
    let hi = this.#events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#events[mid]!.at <= at) lo = mid + 1;
      else hi = mid;
    }
    this.#events.splice(lo, 0, { at, run });
  }

  #send(): void {
    if (!this.limiter.tryAcquire(-1)) {
      this.#at(this.now + this.retryMs, () => this.#send());
      return;
    }
    const start = this.now;
    const duration = this.latency(this.limiter.inflight);
    this.#at(start + duration, () => {
      this.limiter.release(-1, start, duration, true);
      this.latencies.push(duration);
      this.#send();
    });
  }

  start(clients: number): void {
    for (let i = 0; i < clients; i++) this.#at(this.now + i * 0.01, () => this.#send());
  }

  /** Runs until `ms` more of simulated time have passed, noting the limit every 100 ms. */
  run(ms: number): void {
    const end = this.now + ms;
    let nextNote = this.now;
    while (this.#events.length > 0 && this.#events[0]!.at <= end) {
      const e = this.#events.shift()!;
      this.now = e.at;
      while (nextNote <= this.now) {
        this.limits.push(this.limiter.limit);
        nextNote += 100;
      }
      e.run();
    }
    this.now = end;
  }

  reset(): void {
    this.latencies = [];
    this.limits = [];
  }

  p99(): number {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length * 0.99)]!;
  }
}

/** A dependency with `slots` parallel slots of `ms` each: past them, requests queue (latency grows with the number in flight). */
const saturating = (slots: number, ms: number) => (inflight: number) => ms * Math.max(1, inflight / slots);

function gradient(initialLimit: number, minLimit = 4, maxLimit = 500): Gradient2Limit {
  return new Gradient2Limit({ initialLimit, minLimit, maxLimit });
}

describe('Gradient2Limit', () => {
  test('converges near the dependency concurrency when latency rises with concurrency', () => {
    const limiter = new Limiter({ algorithm: gradient(200) });
    const sim = new Simulation(limiter, saturating(20, 10));
    // Under capacity first (the baseline is learnt), then four times the dependency's concurrency.
    sim.start(15);
    sim.run(5_000);
    sim.start(65);
    sim.run(10_000);
    sim.reset();
    sim.run(10_000);
    // Without a limit 80 in flight would take 40 ms. The limit settles where the gradient
    // (1.5 x 10 ms / latency) balances the queue allowance (4): about 35, 17.5 ms. The 20
    // slots stay busy, so nothing is lost in throughput.
    expect(Math.min(...sim.limits)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...sim.limits)).toBeLessThanOrEqual(40);
    expect(sim.p99()).toBeLessThanOrEqual(20);
    expect(limiter.shed).toBeGreaterThan(0);
  });

  test('recovers when latency falls again', () => {
    const limiter = new Limiter({ algorithm: gradient(100) });
    const sim = new Simulation(limiter, saturating(20, 10));
    sim.start(15);
    sim.run(5_000);
    sim.start(65);
    sim.run(10_000);
    const before = limiter.limit;
    // The dependency slows for everyone (a slow disk, a GC-bound database)...
    sim.latency = (n) => 8 * saturating(20, 10)(n);
    sim.run(10_000);
    const during = limiter.limit;
    expect(during).toBeLessThan(before);
    // ...then gets twice the capacity it had at first.
    sim.latency = saturating(40, 10);
    sim.run(30_000);
    expect(limiter.limit).toBeGreaterThanOrEqual(40);
    expect(limiter.limit).toBeLessThanOrEqual(80);
  });

  test('keeps the limit within minLimit and maxLimit', () => {
    const limiter = new Limiter({ algorithm: gradient(50, 10, 60) });
    const sim = new Simulation(limiter, (n) => Math.max(5, n * n));
    sim.start(2);
    sim.run(2_000);
    sim.start(68);
    sim.run(10_000);
    expect(Math.min(...sim.limits)).toBe(10);
    expect(limiter.limit).toBe(10);
    // A service that never slows down: growth stops at maxLimit.
    sim.latency = () => 5;
    sim.reset();
    sim.run(10_000);
    expect(Math.max(...sim.limits)).toBe(60);
    expect(limiter.limit).toBe(60);
  });

  test('does not grow while app-limited, but may still fall', () => {
    const g = gradient(100);
    for (let i = 0; i < 20; i++) g.update({ rttMs: 10, maxInflight: 5 });
    expect(g.limit).toBe(100);
    g.update({ rttMs: 100, maxInflight: 5 });
    expect(g.limit).toBe(90);
  });

  test('the gradient is floored at one half: one outlier window takes at most 10% off (smoothing 0.2)', () => {
    const g = gradient(100);
    for (let i = 0; i < 10; i++) g.update({ rttMs: 10, maxInflight: 100 });
    // No queueing: each window adds the queue allowance (4) times the smoothing (0.2).
    expect(g.limit).toBe(108);
    g.update({ rttMs: 10_000, maxInflight: 108 });
    // 108 * 0.8 + (108 * 0.5 + 4) * 0.2
    expect(g.limit).toBe(98);
  });
});

describe('AimdLimit', () => {
  const aimd = (initialLimit: number, minLimit = 4, maxLimit = 500) => new AimdLimit({ initialLimit, minLimit, maxLimit });

  test('converges when latency rises with concurrency', () => {
    const limiter = new Limiter({ algorithm: aimd(10) });
    const sim = new Simulation(limiter, saturating(20, 10));
    sim.start(80);
    sim.run(10_000);
    sim.reset();
    sim.run(10_000);
    // Grows one a window until latency passes 2x its baseline (40 in flight), then backs off 10%.
    expect(Math.min(...sim.limits)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...sim.limits)).toBeLessThanOrEqual(45);
    expect(sim.p99()).toBeLessThanOrEqual(22);
  });

  test('recovers when latency falls', () => {
    const limiter = new Limiter({ algorithm: aimd(10) });
    const sim = new Simulation(limiter, saturating(20, 10));
    sim.start(80);
    sim.run(10_000);
    sim.latency = (n) => 10 * saturating(20, 10)(n);
    sim.run(5_000);
    expect(limiter.limit).toBeLessThan(20);
    sim.latency = saturating(20, 10);
    sim.run(20_000);
    expect(limiter.limit).toBeGreaterThanOrEqual(20);
  });

  test('keeps the limit within its bounds', () => {
    const a = aimd(10, 8, 12);
    for (let i = 0; i < 20; i++) a.update({ rttMs: 10, maxInflight: 12 });
    expect(a.limit).toBe(12);
    for (let i = 0; i < 20; i++) a.update({ rttMs: 1000, maxInflight: 12 });
    expect(a.limit).toBe(8);
  });
});

describe('Limiter', () => {
  const fixed = (n: number): LimitAlgorithm => new FixedLimit(n);

  test('sheds past the limit and admits again once a request is released', () => {
    const limiter = new Limiter({ algorithm: fixed(2) });
    expect([limiter.tryAcquire(-1), limiter.tryAcquire(-1), limiter.tryAcquire(-1)]).toEqual([true, true, false]);
    limiter.release(-1, 0, 5, true);
    expect(limiter.tryAcquire(-1)).toBe(true);
    expect({ inflight: limiter.inflight, admitted: limiter.admitted, shed: limiter.shed }).toEqual({ inflight: 2, admitted: 3, shed: 1 });
  });

  test('a partition below its guaranteed share is admitted when the others filled the limit', () => {
    const limiter = new Limiter({ algorithm: fixed(10), partitions: [{ name: 'api', share: 0.8 }, { name: 'batch', share: 0.2 }] });
    expect(limiter.partitions.map((p) => p.limit)).toEqual([8, 2]);
    for (let i = 0; i < 10; i++) expect(limiter.tryAcquire(0)).toBe(true);
    expect(limiter.tryAcquire(0)).toBe(false);
    expect(limiter.tryAcquire(1)).toBe(true);
    expect(limiter.tryAcquire(1)).toBe(true);
    expect(limiter.tryAcquire(1)).toBe(false);
    expect(limiter.inflight).toBe(12);
  });

  test('requests left out of the measurement close no window', () => {
    let updates = 0;
    const algorithm: LimitAlgorithm = { limit: 5, update: () => (updates++, 5) };
    const limiter = new Limiter({ algorithm });
    for (let i = 0; i < 50; i++) {
      limiter.tryAcquire(-1);
      limiter.release(-1, i * 100, 1, false);
    }
    expect(updates).toBe(0);
    for (let i = 0; i < 11; i++) {
      limiter.tryAcquire(-1);
      limiter.release(-1, 10_000 + i * 10, 1, true);
    }
    expect(updates).toBe(1);
  });

  test('a window closes at 100 ms with 10 samples, or at 1 s with fewer, and reports its average latency and peak concurrency', () => {
    const seen: unknown[] = [];
    const limiter = new Limiter({ algorithm: { limit: 100, update: (s) => (seen.push(s), 100) } });
    for (let i = 0; i < 3; i++) limiter.tryAcquire(-1);
    limiter.release(-1, 0, 10, true);
    limiter.release(-1, 0, 30, true);
    expect(seen).toEqual([]);
    limiter.release(-1, 1000, 20, true);
    expect(seen).toEqual([{ rttMs: 20, maxInflight: 3 }]);
  });
});
