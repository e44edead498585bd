import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Gauge, Registry } from '@prometheus-io/client';
import { instrument } from '../../src/index.js';
import { writeExposition } from '../../src/metrics/index.js';
import { ChunkPool, ExpositionWriter } from '../../src/metrics/writer.js';
import { BodyPart } from '../../src/metrics/body.js';
import { listen, parseExposition, promtoolCheck, promtoolPath, value } from '../helpers.js';

const CHUNK = 64 * 1024;

function bodyOf(out: ExpositionWriter): Buffer {
  const length = out.byteLength;
  const chunks = out.finish();
  const body = Buffer.concat(chunks);
  expect(body.length).toBe(length);
  return body;
}

describe('ExpositionWriter', () => {
  it('keeps every byte across chunk ends, multi-byte characters included', () => {
    const out = new ExpositionWriter();
    const texts: string[] = [];
    // Line lengths that drift against the chunk size, so lines end at, before and across it.
    for (let i = 0; i < 20_000; i++) texts.push(`line{route="/é/日本/${i}/𝄞"} ${'x'.repeat(i % 37)}\n`);
    for (const t of texts) out.write(t);
    const chunks = out.finish();
    expect(chunks.length).toBeGreaterThan(10);
    // A chunk never splits a character: each decodes on its own.
    expect(chunks.map((c) => c.toString('utf8')).join('')).toBe(texts.join(''));
  });

  it('gives a text longer than a chunk a chunk of its own', () => {
    const out = new ExpositionWriter();
    const big = `# HELP big ${'ü'.repeat(CHUNK)}\n`;
    out.write('before\n');
    out.write(big);
    out.write('after\n');
    expect(bodyOf(out).toString('utf8')).toBe(`before\n${big}after\n`);
  });

  it('appends a kept part as it is, between written text, with one part per chunk', () => {
    const out = new ExpositionWriter();
    const kept = new BodyPart(Buffer.from('kept ü\n'));
    out.write('# HELP a\n');
    out.writePart(kept);
    out.writePart(new BodyPart(Buffer.alloc(0)));
    out.write('after\n');
    out.writePart(kept);
    const chunks = out.finish();
    expect(Buffer.concat(chunks).toString('utf8')).toBe('# HELP a\nkept ü\nafter\nkept ü\n');
    expect(out.parts.map((p) => p.bytes)).toEqual(chunks);
    // Not copied: the body sends the part's own Buffer.
    expect(chunks[1]).toBe(kept.bytes);
    expect(out.parts[3]).toBe(kept);
  });

  it('truncates to a mark inside the current chunk and across finished ones', () => {
    const out = new ExpositionWriter();
    out.write('keep\n');
    const mark = out.byteLength;
    out.write('drop\n');
    out.truncate(mark);
    out.write('a'.repeat(CHUNK - 10));
    const mark2 = out.byteLength;
    for (let i = 0; i < 5; i++) out.write('b'.repeat(CHUNK / 2));
    out.truncate(mark2);
    expect(out.byteLength).toBe(mark2);
    out.write('end\n');
    const mark3 = out.byteLength;
    for (let i = 0; i < 3; i++) out.write('c'.repeat(CHUNK));
    out.write('d');
    out.truncate(mark3 - 2);
    out.write('!\n');
    expect(bodyOf(out).toString('utf8')).toBe(`keep\n${'a'.repeat(CHUNK - 10)}en!\n`);
  });
});

describe('ChunkPool', () => {
  it('hands recycled chunks to the next writer, keeps no more than its cap, and never an oversized chunk', () => {
    const pool = new ChunkPool(2 * CHUNK);
    const first = new ExpositionWriter(pool);
    for (let i = 0; i < 4; i++) first.write('a'.repeat(CHUNK - 100));
    first.write('z'.repeat(CHUNK + 1));
    const sent = first.finish();
    expect(sent.map((c) => c.length)).toEqual([CHUNK - 100, CHUNK - 100, CHUNK - 100, CHUNK - 100, CHUNK + 1]);
    pool.recycle(sent);
    const taken = [pool.take(), pool.take(), pool.take()];
    // The first two are the first two chunks sent, most recent first; the cap let no more in.
    expect(taken.map((b) => sent.findIndex((c) => c.buffer === b.buffer))).toEqual([1, 0, -1]);
    expect(taken.map((b) => b.length)).toEqual([CHUNK, CHUNK, CHUNK]);
  });

  it('a writer on recycled chunks writes the same bytes as one on fresh chunks', () => {
    const pool = new ChunkPool(1024 * 1024);
    const text = Array.from({ length: 30_000 }, (_, i) => `m{r="/é/${i}"} ${i}\n`);
    const bodies: string[] = [];
    for (let round = 0; round < 3; round++) {
      const out = new ExpositionWriter(pool);
      for (const t of text) out.write(t);
      const chunks = out.finish();
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      pool.recycle(chunks);
    }
    expect(bodies).toEqual([text.join(''), text.join(''), text.join('')]);
  });
  it('never takes in a Buffer that shares its memory, such as a small one at the start of Node\'s 64 KB allocation slab', () => {
    // What a gzipped scrape body looks like on Node 24 (Buffer.poolSize 64 KB): offset 0 of a
    // 64 KB ArrayBuffer whose rest Node hands out to other Buffers.
    const slab = new ArrayBuffer(CHUNK);
    const zipped = Buffer.from(slab, 0, 3000);
    const neighbour = Buffer.from(slab, 3000, 100).fill('n');
    const pool = new ChunkPool(4 * CHUNK);
    pool.recycle([zipped]);
    const out = new ExpositionWriter(pool);
    out.write('m 1\n'.repeat(2000));
    const chunks = out.finish();
    expect(chunks.map((c) => c.buffer === slab)).toEqual([false]);
    expect(neighbour.toString()).toBe('n'.repeat(100));
  });

  it('hands a chunk recycled twice to one writer only', () => {
    const pool = new ChunkPool(4 * CHUNK);
    const chunk = pool.take();
    pool.recycle([chunk]);
    pool.recycle([chunk]);
    const a = pool.take();
    const b = pool.take();
    expect(a.buffer).toBe(chunk.buffer);
    expect(b.buffer).not.toBe(chunk.buffer);
  });
});

describe('exposition in Buffers', () => {
  it('leaves out all of a family that fails half-way through writing, and keeps the rest', async () => {
    const registry = new Registry();
    new Gauge({ name: 'before_gauge', help: 'h', registers: [registry] }).set(1);
    const poison = { toString: () => { throw new Error('bad label value'); } };
    registry.registerMetric({
      name: 'half_written',
      help: 'Fails on its third sample.',
      type: 'gauge',
      aggregator: 'sum',
      get: () => ({ name: 'half_written', help: 'Fails on its third sample.', type: 'gauge', aggregator: 'sum', values: [{ value: 1, labels: { a: 'x'.repeat(CHUNK) } }, { value: 2, labels: { a: 'y' } }, { value: 3, labels: { a: poison } }] }),
      reset: () => {},
    } as unknown as Parameters<Registry['registerMetric']>[0]);
    new Gauge({ name: 'after_gauge', help: 'h', registers: [registry] }).set(2);
    const { body, errors } = await writeExposition(registry, false);
    expect(errors.map((e) => e.metric)).toEqual(['half_written']);
    expect(body).toBe('# HELP before_gauge h\n# TYPE before_gauge gauge\nbefore_gauge 1\n# HELP after_gauge h\n# TYPE after_gauge gauge\nafter_gauge 2\n');
  });

  it('serves a body of many chunks with the content-length of its bytes', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    const obs = instrument(server, { routeOf: (req) => `/é/${req.url!.slice(1)}`, metrics: { maxSeries: 1000 }, logging: false });
    const base = await listen(server);
    for (let i = 0; i < 300; i++) await (await fetch(`${base}/r${i}`)).text();
    // identity: fetch asks for gzip by default, and would hide the byte count the test checks.
    const plain = { headers: { 'accept-encoding': 'identity' } };
    const res = await fetch(`${base}/metrics`, plain);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBeGreaterThan(8 * CHUNK);
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    const text = bytes.toString('utf8');
    const metrics = await parseExposition(text);
    for (const i of [0, 150, 299]) expect(value(metrics, 'http_requests_total', { route: `/é/r${i}` })).toBe(1);
    if (promtoolPath() !== null) expect(promtoolCheck(text)).toBe('');
    // Concurrent scrapes each get their own chunks (reused ones come back only when sent).
    const together = await Promise.all(Array.from({ length: 4 }, () => fetch(`${base}/metrics`, plain)));
    for (const r of together) {
      const body = Buffer.from(await r.arrayBuffer());
      expect(Number(r.headers.get('content-length'))).toBe(body.length);
      const m = await parseExposition(body.toString('utf8'));
      for (const i of [0, 150, 299]) expect(value(m, 'http_requests_total', { route: `/é/r${i}` })).toBe(1);
    }
    const head = await fetch(`${base}/metrics`, { method: 'HEAD', ...plain });
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(8 * CHUNK);
    expect(await head.text()).toBe('');
    expect(obs.framework).toBe('node-http');
    server.closeAllConnections();
    server.close();
  });
});
