import { afterAll, describe, expect, it } from 'vitest';
import { median, pairedRatio, parseWrk, toMs } from '../../bench/lib/stats.mjs';
import { startServer, stop } from '../../bench/lib/procs.mjs';
import type { StartedServer } from '../../bench/lib/procs.mjs';

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
});
