// The developer console's memory under a flood: a Fastify app with `console: true` in a child
// process (run with --expose-gc; its logs go to /dev/null), 10,000 requests from here (1% answered
// 500; each /hello logs a line of its own besides the request line), twice. Before and after
// each flood the child collects garbage and reports its RSS; the console's own /api/stats gives
// the buffers. The claim: the buffers stay at their bounds, and the RSS growth stays under ~20 MB.
//   node bench/console-flood.mjs [--requests 10000] [--concurrency 32]
// (`--server --console-off`, `--no-logs`, `--no-tracing` start the server alone, for comparisons.)
// Writes bench/results/console-flood.json and the `console-flood` table of bench/README.md.
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineMeta, publish, table } from './lib/readme.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};

if (argv.includes('--server')) {
  const { default: Fastify } = await import('fastify');
  const { instrument } = await import(join(here, '..', 'dist', 'index.js'));
  const app = Fastify();
  const on = !argv.includes('--console-off');
  const obs = instrument(app, { serviceName: 'console-flood', console: on, shutdown: false, ...(argv.includes('--no-logs') ? { logging: false } : {}), ...(argv.includes('--no-tracing') ? { tracing: false } : {}) });
  app.get('/hello/:name', async (req) => {
    req.log.info({ name: req.params.name }, 'said hello');
    return { hello: req.params.name };
  });
  app.get('/fail', async () => {
    throw new Error('this route always fails');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const consoleUrl = on ? await obs.consoleUrl() : 'http://127.0.0.1:1/login?t=';
  process.on('message', (m) => {
    if (m !== 'memory') return;
    globalThis.gc();
    const mem = process.memoryUsage();
    process.send({ memory: { rss: mem.rss, heapTotal: mem.heapTotal, heapUsed: mem.heapUsed, external: mem.external, arrayBuffers: mem.arrayBuffers } });
  });
  process.send({ port: app.server.address().port, consoleUrl });
} else {
  const n = opt('--requests', 10_000);
  const concurrency = opt('--concurrency', 32);
  const meta = machineMeta();
  // The child's stdout (its JSON log lines) goes nowhere, as a service's would to a pipe that keeps up.
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const next = () => new Promise((resolve) => child.once('message', resolve));
  const { port, consoleUrl } = await next();
  const origin = new URL(consoleUrl).origin;
  const token = new URL(consoleUrl).searchParams.get('t');
  const base = `http://127.0.0.1:${port}`;
  const memory = async () => {
    child.send('memory');
    return (await next()).memory;
  };
  const stats = async () => (await fetch(`${origin}/api/stats`, { headers: { authorization: `Bearer ${token}` } })).json();
  async function flood(count, offset) {
    let i = 0;
    const worker = async () => {
      while (i < count) {
        const k = offset + i++;
        const res = await fetch(k % 100 === 99 ? `${base}/fail` : `${base}/hello/u${k}`);
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
  // Warm-up: the JIT, the route's series and the first buffers, so the baseline is not the cold process.
  await flood(500, 0);
  const before = await memory();
  const t0 = performance.now();
  await flood(n, 1000);
  const seconds = (performance.now() - t0) / 1000;
  const afterOne = await memory();
  const statsOne = await stats();
  await flood(n, 1000 + n);
  const afterTwo = await memory();
  const statsTwo = await stats();
  child.kill();
  const mb = (b) => +(b / 1048576).toFixed(1);
  const result = {
    ...meta,
    method: `Fastify, console on, logs to /dev/null; ${n} requests (1% answered 500) from ${concurrency} connections, twice, after 500 warm-up requests; RSS and heap after a forced GC in the server process`,
    requests: n,
    seconds_first_flood: +seconds.toFixed(1),
    rss_mb: { before: mb(before.rss), after_first: mb(afterOne.rss), after_second: mb(afterTwo.rss) },
    heap_total_mb: { before: mb(before.heapTotal), after_first: mb(afterOne.heapTotal), after_second: mb(afterTwo.heapTotal) },
    heap_used_mb: { before: mb(before.heapUsed), after_first: mb(afterOne.heapUsed), after_second: mb(afterTwo.heapUsed) },
    rss_growth_mb: { first: mb(afterOne.rss - before.rss), second: mb(afterTwo.rss - afterOne.rss) },
    buffers_after_first: { traces: statsOne.traces, logs: statsOne.logs },
    buffers_after_second: { traces: statsTwo.traces, logs: statsTwo.logs },
  };
  publish('console-flood', join(here, 'results', 'console-flood.json'), result, (r) =>
    table(
      ['', 'before', `after ${r.requests.toLocaleString('en-US')}`, `after ${(2 * r.requests).toLocaleString('en-US')}`],
      [
        ['RSS (MB)', r.rss_mb.before, r.rss_mb.after_first, r.rss_mb.after_second],
        ['V8 heap committed (MB)', r.heap_total_mb.before, r.heap_total_mb.after_first, r.heap_total_mb.after_second],
        ['heap used (MB)', r.heap_used_mb.before, r.heap_used_mb.after_first, r.heap_used_mb.after_second],
        ['traces held / evicted', '', `${r.buffers_after_first.traces.held} / ${r.buffers_after_first.traces.evicted}`, `${r.buffers_after_second.traces.held} / ${r.buffers_after_second.traces.evicted}`],
        ['spans held', '', r.buffers_after_first.traces.spans, r.buffers_after_second.traces.spans],
        ['log lines held / evicted', '', `${r.buffers_after_first.logs.held} / ${r.buffers_after_first.logs.evicted}`, `${r.buffers_after_second.logs.held} / ${r.buffers_after_second.logs.evicted}`],
      ],
    ) + `\n\nRSS growth: ${r.rss_growth_mb.first} MB over the first flood, ${r.rss_growth_mb.second} MB over the second.`,
  );
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
