// Scrape cost: GET /metrics time (client side, loopback, body fully read) and size when the
// request metrics hold N label sets, for periscope (Fastify, filled by N real requests to N
// route templates) against prom-client's own Registry serializing the same series.
// One label set is 24 samples (a counter and two histograms), so 417 label sets is about
// 10,000 samples and 10,000 label sets is 240,000; all three sizes are measured.
//
//   node bench/scrape.mjs [--quick] [--render]
//
// Writes bench/results/scrape.json and its table in bench/README.md.
import { join } from 'node:path';
import { countSeries } from './cardinality.mjs';
import { execFileSync } from 'node:child_process';
import { get } from 'node:http';
import { PINNING, ROOT, memory, run, startServer, stop } from './lib/procs.mjs';
import { startFilledPeriscope } from './lib/scrape-setup.mjs';
import { machineLine, machineMeta, publish, rerender, table } from './lib/readme.mjs';
import { median } from './lib/stats.mjs';

const HAS_CURL = (() => {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const RESULTS = join(ROOT, 'bench', 'results', 'scrape.json');
const log = (line) => process.stderr.write(`${line}\n`);

/**
 * Times scrapes with curl pinned to the load CPU (a thin client: in-process fetch added up
 * to 100 ms of its own on a loaded machine), else with node:http; counts series once, untimed.
 */
async function timeScrapes(port, times) {
  const url = `http://127.0.0.1:${port}/metrics`;
  const samples = [];
  let bytes = 0;
  // One untimed scrape first: the first call compiles the serializer's code paths.
  for (let i = 0; i <= times; i++) {
    let ms;
    if (HAS_CURL) {
      const pin = PINNING ? ['taskset', '-c', PINNING.load] : [];
      const out = await run(pin[0] ?? 'curl', [...pin.slice(1), ...(pin.length ? ['curl'] : []), '-s', '-o', '/dev/null', '-m', '120', '-w', '%{http_code} %{time_total} %{size_download}', url], 130_000);
      const [code, seconds, size] = out.trim().split(' ');
      if (code !== '200') throw new Error(`/metrics answered ${code}`);
      ms = Number(seconds) * 1000;
      bytes = Number(size);
    } else {
      const t0 = performance.now();
      bytes = await new Promise((resolve, reject) => {
        get(url, (res) => {
          let n = 0;
          res.on('data', (chunk) => {
            n += chunk.length;
          });
          res.on('end', () => resolve(n));
        }).on('error', reject);
      });
      ms = performance.now() - t0;
    }
    if (i > 0) samples.push(ms);
  }
  const body = await (await fetch(url, { signal: AbortSignal.timeout(120_000) })).text();
  return { p50_ms: +median(samples).toFixed(1), max_ms: +Math.max(...samples).toFixed(1), bytes, series: countSeries(body).all, client: HAS_CURL ? 'curl' : 'node:http' };
}

async function measure(kind, labelSets, times) {
  const server =
    kind === 'periscope'
      ? await startFilledPeriscope(labelSets, { nodeArgs: ['--expose-gc'] })
      : await startServer('prom-registry', ['--series', String(labelSets)], { nodeArgs: ['--expose-gc'], timeoutMs: 120_000 });
  try {
    const t = await timeScrapes(server.port, times);
    const mem = await memory(server);
    const r = { kind, label_sets: labelSets, ...t, rss_mb: mem.rss_mb, heap_mb: mem.heap_mb };
    log(`${kind} ${labelSets} label sets: ${r.series} series, ${(r.bytes / 1e6).toFixed(2)} MB, p50 ${r.p50_ms} ms, max ${r.max_ms} ms, RSS ${r.rss_mb} MB`);
    return r;
  } finally {
    await stop(server);
  }
}

function render(result) {
  const rows = result.rows.map((r) => [r.kind, r.label_sets, r.series, (r.bytes / 1e6).toFixed(2), r.p50_ms, r.max_ms, r.rss_mb]);
  return `${machineLine(result)} Median and maximum of ${result.times} timed scrapes after one untimed one, timed by ${result.rows[0]?.client ?? 'curl'}${PINNING ? ` pinned to CPU ${PINNING.load} (servers on CPU ${PINNING.server})` : ''}; series are all sample lines, runtime metrics included.\n\n${table(
    ['registry', 'label sets', 'series (samples)', 'MB', 'p50 ms', 'max ms', 'RSS MB after'],
    rows,
  )}`;
}

async function main() {
  const meta = machineMeta();
  const argv = process.argv.slice(2);
  if (argv.includes('--render')) {
    rerender('scrape', RESULTS, render);
    return;
  }
  const quick = argv.includes('--quick');
  const sizes = quick ? [417, 10_000] : [417, 10_000, 50_000];
  const times = quick ? 5 : 9;
  const rows = [];
  for (const labelSets of sizes) {
    for (const kind of ['periscope', 'prom-client']) rows.push(await measure(kind, labelSets, times));
  }
  publish('scrape', RESULTS, { ...meta, times, rows }, render);
}

await main();
