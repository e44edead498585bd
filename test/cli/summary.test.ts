import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { LogSummary, main, MAX_ROUTES, OTHER_ROUTES, QuantileSketch, RELATIVE_ACCURACY, TopK } from '../../src/cli/index.js';
import type { Summary } from '../../src/cli/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/app.log', import.meta.url));
const BIN = fileURLToPath(new URL('../../dist/cli/bin.js', import.meta.url));

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function run(argv: string[], stdin: Readable = Readable.from([])) {
  const stdout = new Sink();
  const stderr = new Sink();
  const status = await main(argv, { stdin, stdout, stderr });
  return { status, stdout: stdout.text, stderr: stderr.text };
}

function within(actual: number | undefined, exact: number): void {
  expect(actual).toBeTypeOf('number');
  expect(Math.abs(actual! - exact)).toBeLessThanOrEqual(exact * RELATIVE_ACCURACY);
}

describe('periscope logs summary on the fixture', () => {
  // The fixture (generated once, see its lines) holds: 100 GET /users/:id request lines with
  // durations 1..100 ms, 4 of them 500; 20 POST /orders lines of 10..200 ms, 2 of them 503;
  // 5 pino-http style lines for /health?probe=1 at 2 ms; 6 error/fatal lines; 3 other lines;
  // 4 lines that are not JSON objects and one blank line.
  it('counts lines, levels, errors, hours and routes exactly', async () => {
    const r = await run(['logs', 'summary', FIXTURE, '--json']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const s = JSON.parse(r.stdout) as Summary & { source: string };
    expect(s.source).toBe(FIXTURE);
    expect([s.lines, s.json_lines, s.skipped]).toEqual([138, 134, 4]);
    expect(s.levels).toEqual({ debug: 1, info: 119, warn: 2, error: 11, fatal: 1 });
    expect(s.top_errors).toEqual([
      { message: 'db timeout', count: 3, overcount: 0 },
      { message: 'boom', count: 2, overcount: 0 },
      { message: 'HTTP 500 Internal Server Error', count: 2, overcount: 0 },
      { message: 'HTTP 503 Service Unavailable', count: 2, overcount: 0 },
      { message: 'connection refused', count: 2, overcount: 0 },
      { message: 'out of memory', count: 1, overcount: 0 },
    ]);
    expect(s.requests_per_hour).toEqual([
      { hour: '2024-05-01T10', count: 65 },
      { hour: '2024-05-01T11', count: 60 },
    ]);
    expect(s.routes.map((x) => [x.route, x.count, x.errors, x.error_rate])).toEqual([
      ['GET /users/:id', 100, 4, 0.04],
      ['POST /orders', 20, 2, 0.1],
      ['GET /health', 5, 0, 0],
    ]);
  });

  it('gives each percentile within the documented 1% of the exact nearest-rank value', async () => {
    const s = JSON.parse((await run(['logs', 'summary', FIXTURE, '--json'])).stdout) as Summary;
    const [users, orders, health] = s.routes;
    within(users!.p50_ms, 50);
    within(users!.p95_ms, 95);
    within(users!.p99_ms, 99);
    within(orders!.p50_ms, 100);
    within(orders!.p95_ms, 190);
    within(orders!.p99_ms, 200);
    // All values equal: the exact min and max pin the answer.
    expect([health!.p50_ms, health!.p95_ms, health!.p99_ms]).toEqual([2, 2, 2]);
  });

  it('prints a readable text summary', async () => {
    const r = await run(['logs', 'summary', FIXTURE, '--top', '2']);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 2)).toEqual([`periscope logs summary: ${FIXTURE}`, 'lines: 138 (JSON: 134, skipped non-JSON: 4)']);
    expect(lines).toContain('  info           119');
    expect(lines).toContain('         3  db timeout');
    expect(lines).toContain('         2  boom');
    expect(lines).not.toContain('         2  HTTP 500 Internal Server Error'); // --top 2
    expect(lines).toContain('  2024-05-01T10:00Z        65');
    expect(lines.some((l) => /^ {2}GET \/users\/:id +100 +4 +4\.00 /.test(l))).toBe(true);
    expect(lines).toContain('  (percentiles: nearest-rank, from log-scale buckets: within 1% of the exact value)');
  });

  it('reads standard input with "-"', async () => {
    const r = await run(['logs', 'summary', '-', '--json'], Readable.from([readFileSync(FIXTURE)]));
    const s = JSON.parse(r.stdout) as Summary & { source: string };
    expect(s.source).toBe('stdin');
    expect([s.lines, s.skipped, s.routes.length]).toEqual([138, 4, 3]);
  });
});

describe('periscope logs summary on bad input', () => {
  it('skips garbage lines and says how many', async () => {
    const input = Readable.from(['garbage\n', '\u0000\u0001binary\n', '{"level":"info","msg":"ok"}\n', '"just a string"\n', 'null\n']);
    const r = await run(['logs', 'summary', '-', '--json'], input);
    const s = JSON.parse(r.stdout) as Summary;
    expect([s.lines, s.json_lines, s.skipped]).toEqual([5, 1, 4]);
    expect(s.levels).toEqual({ info: 1 });
    expect(s.routes).toEqual([]);
  });

  it('fails clearly with a non-zero status for a missing file', async () => {
    const r = await run(['logs', 'summary', '/nonexistent/app.log']);
    expect([r.status, r.stdout, r.stderr]).toEqual([1, '', 'periscope: cannot read /nonexistent/app.log: no such file\n']);
  });

  it('exits non-zero from the real bin for a missing file', () => {
    expect(existsSync(BIN), 'run `npm run build` first (npm test does)').toBe(true);
    const p = spawnSync(process.execPath, [BIN, 'logs', 'summary', '/nonexistent/app.log'], { encoding: 'utf8' });
    expect([p.status, p.stdout, p.stderr]).toEqual([1, '', 'periscope: cannot read /nonexistent/app.log: no such file\n']);
  });

  it('answers usage errors with status 2 and the usage text', async () => {
    const r = await run(['logs', 'summarise', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr.startsWith('Usage: periscope logs summary FILE|- [--json] [--top N]\n')).toBe(true);
    expect((await run(['logs', 'summary', 'x', '--top', '0'])).status).toBe(2);
    expect((await run(['--help'])).stdout.startsWith('Usage: ')).toBe(true);
  });
});

describe('bounded memory', () => {
  it('keeps every quantile of 200,000 spread values within 1%, in a bounded number of buckets', () => {
    const sketch = new QuantileSketch();
    const values: number[] = [];
    let seed = 42;
    for (let i = 0; i < 200_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const v = Math.exp((seed / 2 ** 31) * 16 - 4); // 0.018 ms .. 163 s, log-uniform
      values.push(v);
      sketch.add(v);
    }
    values.sort((a, b) => a - b);
    for (const q of [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999]) {
      within(sketch.quantile(q), values[Math.ceil(q * values.length) - 1]!);
    }
    // ln(range) / ln(γ) = 16 / 0.02 buckets, however many values.
    expect(sketch.buckets).toBeLessThanOrEqual(801);
    expect(sketch.count).toBe(200_000);
  });

  it('folds routes past the cap into one row', () => {
    const s = new LogSummary();
    for (let i = 0; i < MAX_ROUTES + 50; i++) s.addLine(JSON.stringify({ route: `/r${i}`, status_code: 200, duration_ms: 1 }));
    const r = s.result();
    expect(r.routes).toHaveLength(MAX_ROUTES + 1);
    expect(r.routes.find((x) => x.route === OTHER_ROUTES)!.count).toBe(50);
  });

  it('keeps a frequent message counted among many rare ones, with its possible overcount shown', () => {
    const top = new TopK(10);
    for (let i = 0; i < 100; i++) {
      top.add('frequent');
      top.add(`rare ${i}`);
    }
    const [first, second] = top.top(2);
    expect(first).toEqual({ key: 'frequent', count: 100, overcount: 0 });
    // A rare message took over an evicted counter: its count says how much may be inherited.
    expect(second!.count - second!.overcount).toBe(1);
  });
});
