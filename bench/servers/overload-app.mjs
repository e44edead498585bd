// The overload scenario's server: node:http with periscope (metrics on, logs and tracing off),
// one route whose latency grows with the requests in flight, as a saturated dependency's does.
//   node bench/servers/overload-app.mjs off|gradient|aimd [--slots 16] [--service-ms 20] [--contention 0.25]
// The dependency has SLOTS parallel slots of SERVICE_MS each: with n requests in flight and
// x = n / SLOTS, a request takes SERVICE_MS * max(1, x) (queueing) * (1 + CONTENTION * max(0, x - 1))
// (work lost to contention: lock waits, context switches), so past its capacity throughput
// falls. /bench/stats (left out of periscope by `ignore`) reports per second: successful
// responses, their p99 measured in the server from the handler's start to the response's
// finish, and the limit.
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ready } from './common.mjs';

const ROOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const argv = process.argv.slice(2);
const mode = argv[0];
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const slots = opt('--slots', 16);
const serviceMs = opt('--service-ms', 20);
const contention = opt('--contention', 0.25);

const { instrument } = await import(join(ROOT_DIR, 'dist', 'index.js'));
let inflight = 0;
/** The limit (partition="all"), read from the registry once a second since the last reset. */
const limits = [];
let t0 = performance.now();
/** Per second since the last reset: latencies of successful responses. */
let seconds = [];

function record(ms) {
  const s = Math.floor((performance.now() - t0) / 1000);
  (seconds[s] ??= []).push(ms);
}

const server = createServer((req, res) => {
  if (req.url === '/bench/reset') {
    t0 = performance.now();
    seconds = [];
    limits.length = 0;
    return res.end('ok');
  }
  if (req.url === '/bench/stats') {
    const body = seconds.map((lat) => {
      const sorted = (lat ?? []).sort((a, b) => a - b);
      return { ok: sorted.length, p99_ms: sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] };
    });
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({ seconds: body, latencies: seconds.map((l) => l ?? []), limits }));
  }
  const start = performance.now();
  inflight++;
  const x = inflight / slots;
  const delay = serviceMs * Math.max(1, x) * (1 + contention * Math.max(0, x - 1));
  setTimeout(() => {
    inflight--;
    res.end('done');
    record(performance.now() - start);
  }, delay);
});

const obs = instrument(server, {
  routes: ['/work'],
  ignore: ['/bench/*'],
  logging: false,
  tracing: false,
  shutdown: false,
  overload: mode === 'off' ? false : { limit: mode },
});
setInterval(async () => {
  const m = obs.registry.getSingleMetric('http_server_concurrency_limit');
  if (m === undefined) return;
  const v = (await m.get()).values.find((s) => s.labels.partition === 'all');
  limits.push(v?.value ?? null);
}, 1000).unref();
server.listen(0, '127.0.0.1', () => ready(server.address().port));
