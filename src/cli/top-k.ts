/**
 * The most frequent strings in bounded memory (the space-saving algorithm): at most
 * `capacity` counters. While fewer than `capacity` distinct strings were seen, counts are
 * exact; after that, a new string takes over the smallest counter and inherits its count, so
 * a reported count can exceed the true one by at most that inherited amount (reported as
 * `overcount`), and any string seen more than total/capacity times is always kept.
 */
export class TopK {
  readonly #counts = new Map<string, { count: number; overcount: number }>();
  constructor(readonly capacity: number) {}

  add(key: string): void {
    const entry = this.#counts.get(key);
    if (entry !== undefined) {
      entry.count++;
      return;
    }
    if (this.#counts.size < this.capacity) {
      this.#counts.set(key, { count: 1, overcount: 0 });
      return;
    }
    let minKey = '';
    let min = Number.POSITIVE_INFINITY;
    for (const [k, v] of this.#counts) {
      if (v.count < min) {
        min = v.count;
        minKey = k;
      }
    }
    this.#counts.delete(minKey);
    this.#counts.set(key, { count: min + 1, overcount: min });
  }

  /** The `n` largest, largest first; ties in first-seen order. */
  top(n: number): { key: string; count: number; overcount: number }[] {
    return [...this.#counts]
      .map(([key, v]) => ({ key, count: v.count, overcount: v.overcount }))
      .sort((a, b) => b.count - a.count)
      .slice(0, n);
  }
}
