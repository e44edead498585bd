import { Function as PprofFunction, Line, Location, Profile, Sample, StringTable, ValueType } from 'pprof-format';

/** A V8 call frame, as node:inspector's Profiler and HeapProfiler give it. */
interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based. */
  readonly lineNumber: number;
  readonly columnNumber: number;
}

/** node:inspector's `Profiler.Profile` (the `.cpuprofile` format Chrome DevTools opens). */
export interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: CallFrame; readonly children?: readonly number[] }[];
  /** Microseconds, on V8's monotonic clock. */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  /** Microseconds between consecutive samples (the first from `startTime`). */
  readonly timeDeltas?: readonly number[];
}

/** node:inspector's `HeapProfiler.SamplingHeapProfile`. */
export interface SamplingHeapProfile {
  readonly head: HeapNode;
  readonly samples: readonly { readonly size: number; readonly nodeId: number }[];
}
interface HeapNode {
  readonly callFrame: CallFrame;
  /** Bytes allocated at this node and still alive, scaled by V8 for the sampling. */
  readonly selfSize: number;
  readonly id: number;
  readonly children: readonly HeapNode[];
}

/** V8's synthetic frames that carry no CPU time of the program's own. */
const NOT_CPU = new Set(['(idle)']);

/** Functions and locations of one profile, each stored once. */
class Frames {
  readonly strings = new StringTable();
  readonly functions: PprofFunction[] = [];
  readonly locations: Location[] = [];
  readonly #functionIds = new Map<string, number>();
  readonly #locationIds = new Map<string, number>();

  /** The location id of `frame` (a new one the first time it is seen). */
  location(frame: CallFrame): number {
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const line = frame.lineNumber + 1;
    const key = `${name}\0${frame.url}\0${line}\0${frame.columnNumber}`;
    let id = this.#locationIds.get(key);
    if (id !== undefined) return id;
    const fnKey = `${name}\0${frame.url}\0${line}`;
    let functionId = this.#functionIds.get(fnKey);
    if (functionId === undefined) {
      functionId = this.functions.length + 1;
      this.#functionIds.set(fnKey, functionId);
      const nameId = this.strings.dedup(name);
      this.functions.push(new PprofFunction({ id: functionId, name: nameId, systemName: nameId, filename: this.strings.dedup(frame.url), startLine: line }));
    }
    id = this.locations.length + 1;
    this.#locationIds.set(key, id);
    this.locations.push(new Location({ id, line: [new Line({ functionId, line, column: frame.columnNumber + 1 })] }));
    return id;
  }
}

/**
 * A V8 CPU profile as a pprof `Profile` (sample types `samples/count` and `cpu/nanoseconds`),
 * one sample per distinct stack, leaf first, as pprof orders locations. `(idle)` time is left
 * out and the `(root)` frame dropped. `startedAt` is the wall-clock start in ms since the epoch.
 */
export function cpuProfileToPprof(profile: CpuProfile, intervalMicros: number, startedAt: number): Profile {
  const frames = new Frames();
  const parent = new Map<number, number>();
  const byId = new Map<number, CpuProfile['nodes'][number]>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const count = new Map<number, number>();
  const nanos = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i]!;
    count.set(id, (count.get(id) ?? 0) + 1);
    // A sample's time is the gap to the next one (the last gets the sampling interval).
    const next = deltas[i + 1];
    nanos.set(id, (nanos.get(id) ?? 0) + Math.max(0, next ?? intervalMicros) * 1000);
  }
  const sample: Sample[] = [];
  for (const [id, n] of count) {
    const leaf = byId.get(id);
    if (leaf === undefined || NOT_CPU.has(leaf.callFrame.functionName)) continue;
    const locationId: number[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)!;
      if (node.callFrame.functionName === '(root)') break;
      locationId.push(frames.location(node.callFrame));
    }
    sample.push(new Sample({ locationId, value: [n, Math.round(nanos.get(id)!)] }));
  }
  const s = frames.strings;
  const cpu = s.dedup('cpu');
  const nanoseconds = s.dedup('nanoseconds');
  return new Profile({
    sampleType: [new ValueType({ type: s.dedup('samples'), unit: s.dedup('count') }), new ValueType({ type: cpu, unit: nanoseconds })],
    sample,
    location: frames.locations,
    function: frames.functions,
    stringTable: s,
    timeNanos: BigInt(Math.round(startedAt)) * 1_000_000n,
    durationNanos: Math.max(0, Math.round((profile.endTime - profile.startTime) * 1000)),
    periodType: new ValueType({ type: cpu, unit: nanoseconds }),
    period: intervalMicros * 1000,
  });
}

/**
 * A V8 sampling heap profile as a pprof `Profile` of what is still alive (sample types
 * `objects/count`, the samples taken, and `space/bytes`, V8's scaled estimate), one sample per
 * allocation site. `(root)` is dropped.
 */
export function heapProfileToPprof(profile: SamplingHeapProfile, samplingIntervalBytes: number, startedAt: number, durationMs: number): Profile {
  const frames = new Frames();
  const objects = new Map<number, number>();
  for (const s of profile.samples) objects.set(s.nodeId, (objects.get(s.nodeId) ?? 0) + 1);
  const sample: Sample[] = [];
  // Depth-first with an explicit stack of (node, its stack of location ids, leaf last).
  const pending: [HeapNode, number[]][] = [[profile.head, []]];
  while (pending.length > 0) {
    const [node, stack] = pending.pop()!;
    const here = node.callFrame.functionName === '(root)' && stack.length === 0 ? stack : [...stack, frames.location(node.callFrame)];
    if (node.selfSize > 0 && here.length > 0) {
      sample.push(new Sample({ locationId: here.toReversed(), value: [objects.get(node.id) ?? 0, node.selfSize] }));
    }
    for (const child of node.children) pending.push([child, here]);
  }
  const s = frames.strings;
  const space = s.dedup('space');
  const bytes = s.dedup('bytes');
  return new Profile({
    sampleType: [new ValueType({ type: s.dedup('objects'), unit: s.dedup('count') }), new ValueType({ type: space, unit: bytes })],
    sample,
    location: frames.locations,
    function: frames.functions,
    stringTable: s,
    timeNanos: BigInt(Math.round(startedAt)) * 1_000_000n,
    durationNanos: Math.round(durationMs * 1_000_000),
    periodType: new ValueType({ type: space, unit: bytes }),
    period: samplingIntervalBytes,
    defaultSampleType: space,
  });
}
