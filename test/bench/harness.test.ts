import { afterAll, describe, expect, it } from 'vitest';
import { median, pairedRatio, pairedRatioRange, parseTails, parseWrk, toMs } from '../../bench/lib/stats.mjs';
import { cpuMicros, loopStats, resetLoopStats, startServer, statCpuMicros, stop } from '../../bench/lib/procs.mjs';
import type { StartedServer } from '../../bench/lib/procs.mjs';
import { QUIET_LOAD, QUIET_STEAL, cpuLine, judge, parseProcStat, parseSelfStat } from '../../bench/lib/quiet.mjs';

// Captured from wrk 4.1.0 (Debian) against a route that answered 404.
const WRK_OUTPUT = `Running 1s test @ http://127.0.0.1:38319/nope
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.49ms    3.26ms  40.53ms   93.61%
    Req/Sec    11.96k     7.47k   25.23k    63.64%
  Latency Distribution
     50%  494.00us
     75%    1.17ms
     90%    3.28ms
     99%   17.73ms
  13056 requests in 1.10s, 5.17MB read
  Non-2xx or 3xx responses: 13056
Requests/sec:  11860.76
Transfer/sec:      4.69MB
`;

// Captured from wrk 4.1.0 (Debian) with `-s bench/lib/percentiles.lua --latency`, against a route that answered 404.
const WRK_TAILS_OUTPUT = `Running 1s test @ http://127.0.0.1:34977/nope
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.44ms    6.17ms  52.24ms   93.23%
    Req/Sec    12.86k     7.36k   23.58k    60.00%
  Latency Distribution
     50%  329.00us
     75%    1.73ms
     90%    5.65ms
     99%   38.42ms
  12808 requests in 1.01s, 3.10MB read
  Non-2xx or 3xx responses: 12808
Requests/sec:  12731.33
Transfer/sec:      3.08MB
TAILS p50=329 p90=5646 p99=38422 p99.9=50985 p99.99=52241 max=52241 mean=2435
`;
const WRK_TAILS_PARSED = {
  rps: 12731.33,
  p50_ms: 0.329,
  p99_ms: 38.42,
  requests: 12808,
  errors: 12808,
  p90_ms: 5.646,
  p999_ms: 50.985,
  p9999_ms: 52.241,
  max_ms: 52.241,
  mean_ms: 2.435,
};

describe('bench harness statistics', () => {
  it('reads requests/s, percentiles in ms and errors from wrk output', () => {
    expect(parseWrk(WRK_OUTPUT)).toEqual({ rps: 11860.76, p50_ms: 0.494, p99_ms: 17.73, requests: 13056, errors: 13056 });
    expect(toMs('2.5s')).toBe(2500);
  });

  it('takes the median of per-repetition ratios, not the ratio of medians', () => {
    // Ratio of medians would be 20/20 = 1; the paired ratios are 2, 0.5, 1.5.
    expect(pairedRatio([20, 10, 30], [10, 20, 20])).toBe(1.5);
    expect(pairedRatio([5, 0], [10, 10])).toBe(0.5);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('bench run trust', () => {
  it('reports the paired ratios as their median with the min and max over repetitions', () => {
    expect(pairedRatioRange([20, 10, 30], [10, 20, 20])).toEqual({ median: 1.5, min: 0.5, max: 2, n: 3 });
    // A repetition where either side served nothing is left out, as pairedRatio does.
    expect(pairedRatioRange([5, 0, 8], [10, 10, 0])).toEqual({ median: 0.5, min: 0.5, max: 0.5, n: 1 });
    expect(pairedRatioRange([0], [10])).toBeNull();
  });

  it('judges targets only when the 1-minute load average was at most 1.0 at the start and the end', () => {
    expect(QUIET_LOAD).toBe(1);
    expect(judge(0.4, 1)).toEqual({ judged: true, reason: null });
    expect(judge(1.01, 0.3)).toEqual({
      judged: false,
      reason: '1-minute load average 1.01 at the start (above 1.0): other processes shared the CPUs, so the figures are reported but no target is judged met or missed',
    });
    expect(judge(2.85, 2.95).reason).toBe(
      '1-minute load average 2.85 at the start and 2.95 at the end (above 1.0): other processes shared the CPUs, so the figures are reported but no target is judged met or missed',
    );
    expect(judge(0.2, Number.NaN).judged).toBe(false);
  });

  it('does not judge targets when the hypervisor took more than 0.05 CPUs (steal), which the load average does not count', () => {
    expect(QUIET_STEAL).toBe(0.05);
    expect(judge(0.95, 0.99, QUIET_LOAD, 0.05)).toEqual({ judged: true, reason: null });
    expect(judge(0.95, 0.99, QUIET_LOAD, 0.23)).toEqual({
      judged: false,
      reason: 'the hypervisor took 0.23 of the CPUs (steal, above 0.05): other tenants of the host shared them, so the figures are reported but no target is judged met or missed',
    });
    // A high load average is the reason given first.
    expect(judge(1.5, 0.5, QUIET_LOAD, 0.4).reason).toMatch(/^1-minute load average 1.5 at the start/);
  });

  it("counts other processes' CPU from /proc/stat's busy time less the benchmark's own and its children's", () => {
    // user nice system idle iowait irq softirq steal guest guest_nice, in ticks.
    expect(parseProcStat('cpu  201342 51 23186 230883 5386 0 4201 4798 0 0\ncpu0 100 0 0 0 0 0 0 0 0 0\n')).toEqual({ busy: 201342 + 51 + 23186 + 4201, steal: 4798 });
    // utime 120, stime 30, cutime 4000, cstime 500 (fields 14-17); a command name with spaces and ')'.
    const self = '22335 (node (x) y) S 22332 22332 5445 0 -1 4194304 127 0 0 0 120 30 4000 500 20 0 1 0 236187 3133440 418\n';
    expect(parseSelfStat(self)).toBe(4650);
    expect(cpuLine({ seconds: 30.2, others_cpus: 0.95, own_cpus: 1.8, steal_cpus: 0.01 }, 2)).toBe(
      "During the measurement (30.2 s) other processes used 0.95 of the 2 CPUs on average, the benchmark's own processes 1.8, and the hypervisor took 0.01 (steal).",
    );
  });

  it('reads p99.9 and the maximum from the TAILS line bench/lib/percentiles.lua adds to wrk output', () => {
    expect(parseTails(WRK_TAILS_OUTPUT)).toEqual(WRK_TAILS_PARSED);
    expect(() => parseTails(WRK_OUTPUT)).toThrow(/no TAILS line/);
  });
});

describe('bench servers', () => {
  let server: StartedServer | undefined;
  afterAll(() => stop(server));

  it('the express metrics variant serves the route and counts it in periscope metrics', async () => {
    const started = await startServer('express', ['metrics'], { cpu: undefined, timeoutMs: 15_000 });
    if ('unavailable' in started) throw new Error(started.unavailable);
    server = started;
    const res = await fetch(`http://127.0.0.1:${started.port}/hello/world`);
    expect(await res.json()).toEqual({ hello: 'world' });
    const text = await (await fetch(`http://127.0.0.1:${started.port}/metrics`)).text();
    expect(text).toContain('http_requests_total{method="GET",route="/hello/:name",status_code="200"} 1\n');
  });

  it('a server started with --loop-stats reports its event-loop delay and GC pauses over IPC, per window', async () => {
    const started = await startServer('fastify', ['bare', '--loop-stats'], { cpu: undefined, timeoutMs: 15_000 });
    if ('unavailable' in started) throw new Error(started.unavailable);
    try {
      expect(await resetLoopStats(started)).toBe(true);
      for (let i = 0; i < 3; i++) expect((await fetch(`http://127.0.0.1:${started.port}/hello/world`)).status).toBe(200);
      const stats = await loopStats(started);
      expect(Object.keys(stats)).toEqual(['seconds', 'loop_delay', 'gc']);
      expect(Object.keys(stats.loop_delay)).toEqual(['resolution_ms', 'samples', 'min_ms', 'mean_ms', 'p50_ms', 'p99_ms', 'p999_ms', 'max_ms']);
      expect(stats.loop_delay.resolution_ms).toBe(10);
      expect(Object.keys(stats.gc)).toEqual(['count', 'total_ms', 'max_ms', 'by_kind']);
      // Every pause counted is in the total and in its kind's count.
      expect(Object.values(stats.gc.by_kind).reduce((n, k) => n + k.count, 0)).toBe(stats.gc.count);
    } finally {
      await stop(started);
    }
  });
});

describe('bench tools', () => {
  const root = new URL('../../', import.meta.url);
  const runScript = async (args: string[]): Promise<string> => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, timeout: 60_000 });
    return stdout;
  };

  it('cpuMicros adds user and system time from /proc/<pid>/stat, in microseconds', () => {
    // A fixed stat line (fields after the command name: state, ppid, ..., utime 1234, stime 567 ticks);
    // the command name holds spaces and parentheses, as a process may name itself.
    const stat = '4242 (node (worker) 1) R 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 11 0 5000 1000000 2000\n';
    expect(statCpuMicros(stat)).toBe(18_010_000);
    // The real file parses to whole clock ticks (10 ms); a process that is not there reads NaN.
    // How much CPU a piece of work takes is bench/'s to measure, not a unit test's.
    expect(cpuMicros(process.pid) % 10_000).toBe(0);
    expect(cpuMicros(2 ** 22 + 12345)).toBeNaN();
  });

  it('scraper.mjs scrapes at its rate, never two at once, and asks for gzip when told', async () => {
    const started = await startServer('express', ['metrics'], { cpu: undefined, timeoutMs: 15_000 });
    if ('unavailable' in started) throw new Error(started.unavailable);
    try {
      for (const [flags, encoding] of [[[], 'identity'], [['--gzip'], 'gzip']] as const) {
        const out = JSON.parse(await runScript(['bench/lib/scraper.mjs', `http://127.0.0.1:${started.port}/metrics`, '5', '1', ...flags]));
        // 5 a second for 1 s: ticks at 0, 200, ..., 800 ms; each either scraped or skipped.
        expect(out.scheduled).toBe(5);
        expect(out.errors).toBe(0);
        expect(out.scrapes + out.skipped).toBe(5);
        expect(out.encodings).toEqual([encoding]);
        // Each scrape's first byte comes before its last, so their medians keep that order.
        if (out.scrapes > 0) expect(out.first_byte_p50_ms).toBeLessThanOrEqual(out.p50_ms);
      }
    } finally {
      await stop(started);
    }
  });

  it('export-encoding.mjs encodes the same spans as JSON and protobuf; protobuf is smaller', async () => {
    const out = await runScript(['bench/export-encoding.mjs', '--spans', '16', '--rounds', '1']);
    const size = (name: string) => Number(new RegExp(`^${name}\\s.* (\\d+) bytes/span$`, 'm').exec(out)?.[1]);
    expect(size('json')).toBeGreaterThan(800);
    expect(size('protobuf')).toBeGreaterThan(300);
    expect(size('protobuf')).toBeLessThan(size('json') / 2);
  });

  it('profile.mjs profiles a server under load and prints self time by package and function', async () => {
    const { mkdtempSync, readdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'periscope-prof-test-'));
    let out: string;
    try {
      out = await runScript(['bench/profile.mjs', 'express', 'bare', '--duration', '1', '--warmup', '0', '--top', '3', '--keep', dir]);
      expect(readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(out).toMatch(/^express bare: \d+ req\/s over 1 s/);
    const sections = out.split('\n\n');
    expect(sections[1]).toMatch(/^by package \(self time\)\n/);
    expect(sections[2]).toMatch(/^by function \(self time\)\n/);
    // --top 3: three function lines, each a share and a cost per request.
    expect(sections[2]!.trim().split('\n').slice(1)).toHaveLength(3);
    for (const line of sections[2]!.trim().split('\n').slice(1)) expect(line).toMatch(/^\s*\d+\.\d% +\d+\.\d\d µs\/req {2}\S/);
  }, 60_000);
});
