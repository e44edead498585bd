import { describe, expect, it } from 'vitest';
import { ClusterMerger, PIECE_BYTES } from '../../src/cluster/merge.js';
import { PART_VALUES, SnapshotDecoder, SnapshotEncoder } from '../../src/cluster/wire.js';
import type { FamilySnapshot } from '../../src/core/snapshot.js';

const counter = (labels: string[], values: (number | string)[]): FamilySnapshot => ({ name: 'c_total', help: 'C.', type: 'counter', labels, values });
/** The message as IPC delivers it (JSON, the channel's serialization). */
const overIpc = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('SnapshotEncoder / SnapshotDecoder', () => {
  it('sends a label list once, leaves it out while unchanged, and sends it again when it changes or comes back', () => {
    const enc = new SnapshotEncoder();
    const dec = new SnapshotDecoder();
    const a = ['route="/a"', 'route="/b"'];
    const first = enc.encode([counter(a, [1, 2])]);
    expect(first).toEqual([{ name: 'c_total', help: 'C.', type: 'counter', labels: a, values: [1, 2] }]);
    expect(dec.decode(overIpc(first))).toEqual([counter(a, [1, 2])]);

    // The same labels, made afresh by the next snapshot: left out.
    const second = enc.encode([counter([...a], [3, 4])]);
    expect(second).toEqual([{ name: 'c_total', help: 'C.', type: 'counter', values: [3, 4] }]);
    const back = dec.decode(overIpc(second))!;
    expect(back).toEqual([counter(a, [3, 4])]);
    // The primary keeps one list across scrapes, not a new one per message.
    expect(dec.decode(overIpc(enc.encode([counter([...a], [5, 6])]))))!.toEqual([counter(a, [5, 6])]);
    expect(dec.decode([{ name: 'c_total', help: 'C.', type: 'counter', values: [7, 8] }])![0]!.labels).toBe(back[0]!.labels);

    const b = [...a, 'route="/c"'];
    expect(enc.encode([counter(b, [1, 2, 3])])[0]!.labels).toEqual(b);
    // Gone from one message, back in the next: sent again, and the decoder does not guess.
    expect(enc.encode([])).toEqual([]);
    expect(enc.encode([counter(b, [1, 2, 3])])[0]!.labels).toEqual(b);
  });

  it('sends more than PART_VALUES values in parts, decoded in order into a Float64Array with NaN and the infinities', () => {
    const n = PART_VALUES * 2 + 5;
    const values: (number | string)[] = Array.from({ length: n }, (_, i) => i * 0.5);
    values[1] = 'NaN';
    values[PART_VALUES] = '+Inf';
    values[n - 1] = '-Inf';
    const labels = Array.from({ length: n }, (_, i) => `i="${i}"`);
    const wire = new SnapshotEncoder().encode([counter(labels, values)]);
    expect(wire[0]!.values).toBeUndefined();
    expect(wire[0]!.parts!.map((p) => p.length)).toEqual([PART_VALUES, PART_VALUES, 5]);
    const [f] = new SnapshotDecoder().decode(overIpc(wire))!;
    expect(f!.values).toBeInstanceOf(Float64Array);
    expect(f!.values.length).toBe(n);
    expect([f!.values[0], f!.values[1], f!.values[2], f!.values[PART_VALUES], f!.values[PART_VALUES + 1], f!.values[n - 1]]).toEqual([0, NaN, 1, Infinity, (PART_VALUES + 1) * 0.5, -Infinity]);
  });

  it('refuses a message that leaves out a label list it never had (and then forgets the lists it had)', () => {
    const dec = new SnapshotDecoder();
    expect(dec.decode([{ name: 'c_total', help: 'C.', type: 'counter', labels: [''], values: [1] }])).toHaveLength(1);
    expect(dec.decode([{ name: 'other_total', help: 'O.', type: 'counter', values: [1] }])).toBeUndefined();
    expect(dec.decode([{ name: 'c_total', help: 'C.', type: 'counter', values: [2] }])).toBeUndefined();
    expect(dec.decode({ not: 'an array' })).toBeUndefined();
    expect(dec.decode([{ name: 'c_total', help: 'C.', type: 'counter', labels: [''] }])).toBeUndefined();
  });
});

describe('ClusterMerger pieces', () => {
  const many = (slotValue: number): FamilySnapshot[] => {
    const labels = Array.from({ length: 3000 }, (_, i) => `route="/r${i}",name="é€${i}"`);
    return [{ name: 'h_seconds', help: `H ${'x'.repeat(PIECE_BYTES)}.`, type: 'histogram', le: ['0.1', '+Inf'], labels, values: labels.flatMap((_, i) => [i, i + slotValue, 0.25, i + slotValue]) }];
  };

  it('writes pieces of at most PIECE_BYTES (a longer HELP apart) that add up to the body, and reuses them once given back', () => {
    const m = new ClusterMerger(() => {});
    const workers = [0, 1].map((slot) => ({ slot, fresh: true, snapshot: many(slot) }));
    const pieces = [...m.pieces([], workers)];
    const text = Buffer.concat(pieces).toString('utf8');
    expect(pieces.filter((p) => p.length > PIECE_BYTES)).toHaveLength(1);
    expect(text.startsWith(`# HELP h_seconds H ${'x'.repeat(PIECE_BYTES)}.\n# TYPE h_seconds histogram\n`)).toBe(true);
    expect(text.split('\n').filter((l) => l.startsWith('h_seconds_count{')).length).toBe(6000);
    expect(text).toContain('h_seconds_bucket{worker="1",route="/r2999",name="é€2999",le="+Inf"} 3000\n');
    // Only the last, unused Buffer is back: the pieces are the caller's until given back.
    expect(m.pooledPieces()).toBe(1);
    for (const p of pieces) m.recycle(p);
    m.recycle(pieces[1]!); // twice: ignored
    expect(m.pooledPieces()).toBe(16);
    // Written into the recycled memory, the next body is the same, byte for byte.
    expect(m.write([], workers)).toBe(text);
  });

  it('never writes into a piece that was not given back', () => {
    const m = new ClusterMerger(() => {});
    const held = [...m.pieces([], [{ slot: 0, fresh: true, snapshot: many(0) }])];
    const copy = Buffer.concat(held).toString('latin1');
    for (let i = 0; i < 3; i++) m.write([], [{ slot: 0, fresh: true, snapshot: many(100 + i) }]);
    expect(Buffer.concat(held).toString('latin1')).toBe(copy);
  });
});
