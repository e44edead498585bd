import { describe, expect, it } from 'vitest';
import { ClusterMerger, mergeKind } from '../../src/cluster/index.js';
import type { FamilySnapshot } from '../../src/core/snapshot.js';
import { parseExposition, promtoolCheck, promtoolPath, samples, value } from '../helpers.js';

/** A family from one row per label set: `[labelText, ...values]`. */
const family = (f: Omit<FamilySnapshot, 'labels' | 'values'>, rows: (string | number)[][]): FamilySnapshot => ({
  ...f,
  labels: rows.map((r) => r[0] as string),
  values: rows.flatMap((r) => r.slice(1)),
});
const requests = (rows: [string, number][]) => family({ name: 'http_requests_total', help: 'Requests.', type: 'counter' }, rows);
const duration = (rows: (string | number)[][]) => family({ name: 'd_seconds', help: 'Duration.', type: 'histogram', le: ['0.1', '1', '+Inf'] }, rows);
const gauge = (name: string, rows: [string, number | string][]) => family({ name, help: `${name}.`, type: 'gauge' }, rows);
const GET = 'method="GET",route="/a"';

function merged(text: string) {
  if (promtoolPath() !== null) expect(promtoolCheck(text)).toBe('');
  return parseExposition(text);
}

describe('ClusterMerger', () => {
  it('keeps each worker under its slot, and the primary without a worker label', async () => {
    const m = new ClusterMerger(() => {});
    const text = m.write(
      [gauge('periscope_cluster_workers_expected', [['', 2]])],
      [
        { slot: 1, fresh: true, snapshot: [requests([[GET, 250]]), duration([[GET, 1, 2, 3, 0.5, 3]])] },
        { slot: 0, fresh: true, snapshot: [requests([[GET, 100]]), duration([[GET, 4, 5, 6, 1.25, 6]])] },
      ],
    );
    const metrics = await merged(text);
    expect(samples(metrics, 'http_requests_total').map((s) => [s.labels.worker, s.value])).toEqual([
      ['0', 100],
      ['1', 250],
    ]);
    expect(samples(metrics, 'd_seconds', { worker: '1' })[0]).toMatchObject({ buckets: { '0.1': 1, '1': 2, '+Inf': 3 }, sum: 0.5, count: 3 });
    expect(value(metrics, 'periscope_cluster_workers_expected')).toBe(2);
  });

  it('a histogram a worker has not observed yet (only +Inf in its snapshot) hides no other worker', async () => {
    const warnings: string[] = [];
    const m = new ClusterMerger((message) => warnings.push(message));
    const empty = family({ name: 'd_seconds', help: 'Duration.', type: 'histogram', le: ['+Inf'] }, []);
    const live = [
      { slot: 0, fresh: true, snapshot: [requests([]), empty] },
      { slot: 1, fresh: true, snapshot: [requests([[GET, 1]]), duration([[GET, 1, 1, 1, 0.05, 1]])] },
    ];
    const metrics = await merged(m.write([], live));
    expect(samples(metrics, 'd_seconds').map((s) => [s.labels.worker, s.count])).toEqual([['1', 1]]);
    expect(samples(metrics, 'd_seconds', { worker: '1' })[0]).toMatchObject({ buckets: { '0.1': 1, '1': 1, '+Inf': 1 } });
    // A replacement in slot 1 that dies before it observed anything keeps the slot's totals.
    m.retire(1, [requests([[GET, 1]]), duration([[GET, 1, 1, 1, 0.05, 1]])]);
    m.retire(1, [requests([]), empty]);
    const after = await merged(m.write([], [{ slot: 0, fresh: true, snapshot: [requests([]), empty] }]));
    expect(samples(after, 'd_seconds').map((s) => [s.labels.worker, s.count])).toEqual([['1', 1]]);
    expect(value(after, 'http_requests_total', { worker: '1', route: '/a' })).toBe(1);
    expect(warnings).toEqual([]);
  });

  it('adds the retired totals of a slot to its next worker, so a counter never decreases', async () => {
    const m = new ClusterMerger(() => {});
    m.retire(0, [requests([[GET, 100]]), duration([[GET, 1, 2, 3, 0.5, 3]]), gauge('g', [['', 7]])]);
    // The replacement in slot 0 has served 5 requests; another route only existed before.
    m.retire(0, [requests([['method="GET",route="/old"', 9]])]);
    const metrics = await merged(m.write([], [{ slot: 0, fresh: true, snapshot: [requests([[GET, 5]]), duration([[GET, 1, 1, 1, 0.25, 1]])] }]));
    expect(value(metrics, 'http_requests_total', { worker: '0', route: '/a' })).toBe(105);
    expect(value(metrics, 'http_requests_total', { worker: '0', route: '/old' })).toBe(9);
    expect(samples(metrics, 'd_seconds', { worker: '0' })[0]).toMatchObject({ buckets: { '0.1': 2, '1': 3, '+Inf': 4 }, sum: 0.75, count: 4 });
    // Gauges are never retired.
    expect(metrics.g).toBeUndefined();
    // With no live worker in the slot, the retired totals are still served.
    const alone = await merged(m.write([], []));
    expect(value(alone, 'http_requests_total', { worker: '0', route: '/a' })).toBe(100);
  });

  it('a late worker: counters flat at its last values, gauges and summaries left out', async () => {
    const m = new ClusterMerger(() => {});
    const summary = family({ name: 's', help: 'S.', type: 'summary', quantiles: ['0.5'] }, [['', 1, 2, 3]]);
    const snapshot = [requests([[GET, 7]]), gauge('nodejs_heap_size_used_bytes', [['', 5]]), summary];
    const metrics = await merged(m.write([], [{ slot: 3, fresh: false, snapshot }]));
    expect(value(metrics, 'http_requests_total', { worker: '3' })).toBe(7);
    expect(samples(metrics, 'nodejs_heap_size_used_bytes')).toEqual([]);
    expect(samples(metrics, 's')).toEqual([]);
  });

  it('sums in-flight and memory, takes the max of info gauges and the fd limit, and the primary start time', async () => {
    const m = new ClusterMerger(() => {});
    const build = 'service="s",version="1"';
    const w = (slot: number, fresh: boolean, inflight: number) => ({
      slot,
      fresh,
      snapshot: [
        gauge('http_requests_in_flight', [['method="GET"', inflight]]),
        gauge('app_build_info', [[build, 1]]),
        gauge('process_max_fds', [['', 1024 * (slot + 1)]]),
        gauge('process_start_time_seconds', [['', 2000 + slot]]),
        gauge('process_resident_memory_bytes', [['', 10]]),
      ],
    });
    const primary = [gauge('process_start_time_seconds', [['', 1000]]), gauge('process_resident_memory_bytes', [['', 3]])];
    const metrics = await merged(m.write(primary, [w(0, true, 2), w(1, true, 3), w(2, false, 40)]));
    expect(samples(metrics, 'http_requests_in_flight').map((s) => [s.labels, s.value])).toEqual([[{ method: 'GET' }, 5]]);
    expect(samples(metrics, 'app_build_info').map((s) => s.value)).toEqual([1]);
    expect(value(metrics, 'process_max_fds')).toBe(2048);
    expect(samples(metrics, 'process_start_time_seconds').map((s) => s.value)).toEqual([1000]);
    expect(value(metrics, 'process_resident_memory_bytes')).toBe(23);
    expect(mergeKind('nodejs_eventloop_lag_seconds', 'gauge')).toBe('worker');
  });

  it('warns once for a summary and for a family whose shape differs between workers, and keeps NaN', async () => {
    const warnings: string[] = [];
    const m = new ClusterMerger((code, message) => warnings.push(`${code} ${message}`));
    const summary = family({ name: 's', help: 'S.', type: 'summary', quantiles: ['0.5'] }, [['', 'NaN', 0, 0]]);
    const other = family({ name: 'd_seconds', help: 'Duration.', type: 'histogram', le: ['5', '+Inf'] }, [['', 1, 1, 1, 1]]);
    for (let i = 0; i < 2; i++) {
      const metrics = await merged(
        m.write([], [
          { slot: 0, fresh: true, snapshot: [summary, duration([['', 1, 1, 1, 1, 1]])] },
          { slot: 1, fresh: true, snapshot: [summary, other] },
        ]),
      );
      expect(samples(metrics, 'd_seconds').map((s) => s.labels.worker)).toEqual(['0']);
      expect(Number.isNaN(samples(metrics, 's', { worker: '1' })[0]!.value)).toBe(true);
    }
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('summary s cannot be merged');
    expect(warnings[1]).toContain("worker 1's is left out");
  });
});
