import { afterEach, describe, expect, it, vi } from 'vitest';
import { clusterWorkerConcern } from '../../src/cluster/index.js';
import type { ResolvedClusterOptions } from '../../src/cluster/index.js';
import { TAG } from '../../src/cluster/protocol.js';
import type { ConcernContext } from '../../src/core/index.js';

// The worker side with its IPC channel stood in for: process.send recorded, the primary's
// messages emitted on process by hand; timers faked.
const sent: { type: string; id?: number; families?: unknown; state?: string }[] = [];
const originalSend = process.send;
const notices: string[] = [];

function setup(options: Partial<ResolvedClusterOptions> = {}) {
  sent.length = 0;
  notices.length = 0;
  process.send = ((message: (typeof sent)[number], _h: unknown, _o: unknown, cb?: (e: Error | null) => void) => {
    sent.push(message);
    cb?.(null);
    return true;
  }) as typeof process.send;
  const ctx = {
    report: (error: unknown) => {
      throw error;
    },
    notice: (code: string, message: string) => notices.push(`${code} ${message}`),
    logger: { info: () => {}, warn: () => {}, debug: () => {}, error: () => {} },
  } as unknown as ConcernContext;
  const families = [{ name: 'x_total', help: 'X.', type: 'counter' as const, labels: [''], values: [3] }];
  return clusterWorkerConcern(ctx, { primaryTimeoutMs: 1000, fallbackPort: 0, fallbackHost: '127.0.0.1', instance: 2, ...options }, {
    snapshot: async () => families,
    serve: (_req, res) => void res.end('metrics'),
    path: '/metrics',
    state: () => 'ready',
  });
}

const primarySays = (message: object) => process.emit('message', { tag: TAG, ...message }, undefined);

afterEach(async () => {
  process.send = originalSend;
  vi.useRealTimers();
});

describe('the worker side', () => {
  it('says hello, takes its slot from the welcome and answers each collect with its values and state', async () => {
    vi.useFakeTimers();
    const worker = setup();
    try {
      expect(sent).toEqual([{ tag: TAG, type: 'hello', state: 'ready' }]);
      primarySays({ type: 'welcome', slot: 4 });
      expect([worker.mode(), worker.slot()]).toEqual(['primary', 4]);
      primarySays({ type: 'collect', id: 7 });
      await vi.waitFor(() => expect(sent).toHaveLength(2));
      expect(sent[1]).toEqual({ tag: TAG, type: 'values', id: 7, state: 'ready', families: [{ name: 'x_total', help: 'X.', type: 'counter', labels: [''], values: [3] }] });
      // Not a periscope message: ignored.
      process.emit('message', { type: 'collect', id: 8 }, undefined);
      await vi.advanceTimersByTimeAsync(5000);
      expect(sent).toHaveLength(2);
      expect(notices).toEqual([]);
    } finally {
      await worker.shutdown![0]!.run();
    }
  });

  it("sends a label list only once when the primary's welcome says it reads that (wire: 2); in full otherwise", async () => {
    vi.useFakeTimers();
    const worker = setup();
    try {
      primarySays({ type: 'welcome', slot: 0, wire: 2 });
      primarySays({ type: 'collect', id: 1 });
      await vi.waitFor(() => expect(sent).toHaveLength(2));
      primarySays({ type: 'collect', id: 2 });
      await vi.waitFor(() => expect(sent).toHaveLength(3));
      expect(sent.slice(1).map((m) => m.families)).toEqual([
        [{ name: 'x_total', help: 'X.', type: 'counter', labels: [''], values: [3] }],
        [{ name: 'x_total', help: 'X.', type: 'counter', values: [3] }],
      ]);
    } finally {
      await worker.shutdown![0]!.run();
    }
  });

  it('without a welcome within primaryTimeoutMs serves its own port and warns once; a late welcome stops that', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate'] });
    // Slot 0 (NODE_APP_INSTANCE=0) on fallback port 0: a free port.
    const worker = setup({ instance: 0 });
    try {
      await vi.advanceTimersByTimeAsync(999);
      expect(worker.mode()).toBe('waiting');
      // The timer, then one turn of the event loop (the welcome may be waiting unread).
      await vi.advanceTimersByTimeAsync(1);
      await vi.advanceTimersByTimeAsync(1);
      expect([worker.mode(), worker.slot()]).toEqual(['fallback', 0]);
      expect(notices).toHaveLength(1);
      expect(notices[0]).toContain('PERISCOPE_CLUSTER_FALLBACK periscope: no periscope primary answered within 1000 ms');
      expect(notices[0]).toContain('this worker (slot 0) serves its own metrics on 127.0.0.1:0/metrics');
      primarySays({ type: 'welcome', slot: 0 });
      expect([worker.mode(), worker.slot()]).toEqual(['primary', 0]);
    } finally {
      await worker.shutdown![0]!.run();
    }
  });
});
