import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FdWriter } from '../../src/logging/fd-writer.js';
import type { LogDropReason } from '../../src/logging/fd-writer.js';

/** A destination that takes at most `room` bytes (then EAGAIN) until `open()`; like a pipe whose reader stopped. */
class FakePipe {
  room = Number.POSITIVE_INFINITY;
  written = '';
  calls = 0;
  failWith: string | undefined;
  readonly writeSome = (chunks: readonly Buffer[]): number => {
    this.calls++;
    if (this.failWith !== undefined) throw Object.assign(new Error(this.failWith), { code: this.failWith });
    if (this.room === 0) throw Object.assign(new Error('EAGAIN: resource temporarily unavailable'), { code: 'EAGAIN' });
    let n = 0;
    for (const c of chunks) {
      const take = Math.min(c.length, this.room - n);
      this.written += c.subarray(0, take).toString('utf8');
      n += take;
      if (take < c.length) break;
    }
    this.room -= n;
    return n;
  };
}

const line = (i: number): string => `{"seq":"${String(i).padStart(4, '0')}"}\n`; // 15 bytes
const LINE = line(0).length;

function setup(maxBufferBytes: number) {
  const pipe = new FakePipe();
  const drops: [LogDropReason, number][] = [];
  const reports: string[] = [];
  const writer = new FdWriter({ maxBufferBytes, report: (e, where) => reports.push(`${where}: ${(e as Error).message}`), writeSome: pipe.writeSome });
  writer.bind({ onDrop: (reason, lines) => drops.push([reason, lines]), notice: (n) => `{"dropped_lines":${n}}\n` });
  return { pipe, writer, drops, reports };
}

describe('FdWriter: bounded, never waits', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes each chunk with one call while the destination takes it', () => {
    const { pipe, writer, drops } = setup(1024);
    writer.write(Buffer.from(line(1) + line(2)));
    writer.write(Buffer.from(line(3)));
    expect(pipe.calls).toBe(2);
    expect(pipe.written).toBe(line(1) + line(2) + line(3));
    expect(writer.held).toBe(0);
    expect(drops).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds up to maxBufferBytes, drops the newest lines, and once drained writes the rest then one line with the count', async () => {
    const { pipe, writer, drops } = setup(5 * LINE);
    pipe.room = 0;
    // 8 lines in three chunks: 5 fit, the newest 3 are dropped (one of them from a chunk that partly fits).
    writer.write(Buffer.from(line(1) + line(2) + line(3)));
    writer.write(Buffer.from(line(4) + line(5) + line(6)));
    writer.write(Buffer.from(line(7) + line(8)));
    expect(writer.held).toBe(5 * LINE);
    expect(drops).toEqual([['buffer_full', 1], ['buffer_full', 2]]);
    expect(writer.droppedSinceNotice).toBe(3);
    // While blocked, a write is held without a syscall; retries back off while nothing is taken.
    const calls = pipe.calls;
    await vi.advanceTimersByTimeAsync(5 + 10 + 20);
    expect(pipe.calls).toBe(calls + 3);
    expect(pipe.written).toBe('');
    pipe.room = Number.POSITIVE_INFINITY;
    await vi.advanceTimersByTimeAsync(40);
    expect(pipe.written).toBe([1, 2, 3, 4, 5].map(line).join('') + '{"dropped_lines":3}\n');
    expect(writer.held).toBe(0);
    expect(writer.droppedSinceNotice).toBe(0);
    // Drained: the fast path again, and no timer left.
    writer.write(Buffer.from(line(9)));
    expect(pipe.written.endsWith(line(9))).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('completes a partly written line whatever the room, and never cuts a held line', async () => {
    const { pipe, writer, drops } = setup(LINE);
    pipe.room = 20; // the first line and 5 bytes of the second
    writer.write(Buffer.from(line(1) + line(2) + line(3)));
    // The rest of line 2 is held although it leaves no room; line 3 does not fit.
    expect(writer.held).toBe(2 * LINE - 20);
    expect(drops).toEqual([['buffer_full', 1]]);
    pipe.room = 3; // a retry that takes a little: progress, then the rest later
    await vi.advanceTimersByTimeAsync(5);
    pipe.room = Number.POSITIVE_INFINITY;
    await vi.advanceTimersByTimeAsync(5);
    expect(pipe.written).toBe(line(1) + line(2) + '{"dropped_lines":1}\n');
    for (const l of pipe.written.trimEnd().split('\n')) expect(() => JSON.parse(l) as unknown).not.toThrow();
  });

  it('holds a copy of what it cannot write: the caller may reuse its buffer once write returns (a LineBatch does)', async () => {
    const { pipe, writer } = setup(1024);
    pipe.room = LINE + 5; // line 1 and 5 bytes of line 2; the rest of line 2 is held
    const reused = Buffer.from(line(1) + line(2));
    writer.write(reused);
    reused.write(line(7) + line(8)); // the caller writes its next lines over it
    const blocked = Buffer.from(line(3));
    writer.write(blocked); // blocked: held whole
    blocked.write(line(9));
    pipe.room = Number.POSITIVE_INFINITY;
    await vi.advanceTimersByTimeAsync(5);
    expect(pipe.written).toBe(line(1) + line(2) + line(3));
  });

  it('with maxBufferBytes 0 drops every line while the destination takes nothing, and says so once it does', async () => {
    const { pipe, writer, drops } = setup(0);
    pipe.room = 0;
    for (let i = 0; i < 4; i++) writer.write(Buffer.from(line(i)));
    expect(drops).toEqual([['buffer_full', 1], ['buffer_full', 1], ['buffer_full', 1], ['buffer_full', 1]]);
    await vi.advanceTimersByTimeAsync(100);
    expect(pipe.written).toBe('');
    pipe.room = Number.POSITIVE_INFINITY;
    await vi.advanceTimersByTimeAsync(100);
    expect(pipe.written).toBe('{"dropped_lines":4}\n');
  });

  it('counts what a failing write (EPIPE) loses as write_failed and reports it; nothing is held', () => {
    const { pipe, writer, drops, reports } = setup(1024);
    pipe.failWith = 'EPIPE';
    writer.write(Buffer.from(line(1) + line(2)));
    expect(drops).toEqual([['write_failed', 2]]);
    expect(reports).toEqual(['log-write: EPIPE']);
    expect(writer.held).toBe(0);
    pipe.failWith = undefined;
    writer.write(Buffer.from(line(3)));
    expect(pipe.written).toBe(line(3));
  });

  it('flush() resolves once drained, or after its bound; drainSync() writes what is held', async () => {
    const { pipe, writer } = setup(1024);
    pipe.room = 0;
    writer.write(Buffer.from(line(1)));
    let flushed = false;
    void writer.flush(2000).then(() => (flushed = true));
    await vi.advanceTimersByTimeAsync(500);
    expect(flushed).toBe(false);
    await vi.advanceTimersByTimeAsync(1500);
    expect(flushed).toBe(true);
    pipe.room = Number.POSITIVE_INFINITY;
    writer.drainSync(1000);
    expect(pipe.written).toBe(line(1));
    expect(writer.held).toBe(0);
  });
});
