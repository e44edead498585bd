// The random-path attack: 100,000 requests to paths no route matches, each different.
// Series in /metrics and the server's memory (after a full GC) before and after, for
// periscope and the peer metrics libraries, with the bare framework as the memory noise floor.
//
//   node bench/cardinality.mjs [--quick] [--requests N] [--render]
//
// Writes bench/results/cardinality.json and its table in bench/README.md.
import { join } from 'node:path';
import { ROOT, loadCount, memory, startServer, stop } from './lib/procs.mjs';
import { machineLine, machineMeta, publish, rerender, table } from './lib/readme.mjs';

const RESULTS = join(ROOT, 'bench', 'results', 'cardinality.json');
const log = (line) => process.stderr.write(`${line}\n`);

/** Sample lines (series) of an exposition, all and those of the `http_` request metrics. */
export function countSeries(text) {
  let all = 0;
  let http = 0;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    all++;
    if (line.startsWith('http_')) http++;
  }
  return { all, http };
}

async function scrape(port) {
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(60_000) });
  const body = await res.text();
  const ms = performance.now() - t0;
  // The bare server has no /metrics: no series to count.
  if (res.status !== 200) return { ms: null, bytes: 0, all: null, http: null };
  return { ms: +ms.toFixed(1), bytes: Buffer.byteLength(body), ...countSeries(body) };
}

export async function attack(framework, variant, requests) {
  const server = await startServer(framework, [variant], { nodeArgs: ['--expose-gc'] });
  if (server.unavailable) return { framework, variant, unavailable: server.unavailable };
  try {
    const base = `http://127.0.0.1:${server.port}`;
    // Warm-up: as many requests to the real route as the attack will send, because any
    // server's RSS rises over its first few hundred thousand requests (V8 and malloc keep the
    // pages that churn used); without it that rise would be charged to the random paths.
    // Then a few random paths, so periscope's one `route="unmatched"` label set (and any other
    // fixed 404 series) exists before the count and only growth per path shows.
    await loadCount(`${base}/hello/world`, 32, { count: requests, timeoutMs: 600_000 });
    await loadCount(`${base}/random/`, 8, { count: 100, randomPaths: true });
    // fastify-metrics counts its own /metrics route; a first scrape makes those series too.
    await scrape(server.port);
    const before = await scrape(server.port);
    const memBefore = await memory(server);
    const run = await loadCount(`${base}/random/`, 32, { count: requests, randomPaths: true, timeoutMs: 600_000 });
    const after = await scrape(server.port);
    const memAfter = await memory(server);
    const r = {
      framework,
      variant,
      requests: run.requests,
      status_4xx: run.status4xx,
      errors: run.errors,
      series_before: before.all,
      series_after: after.all,
      // Request-metric series only: runtime metrics gain a few (a new GC kind) under any load.
      new_series: after.http === null ? null : after.http - before.http,
      new_other_series: after.all === null ? null : after.all - before.all - (after.http - before.http),
      rss_mb_before: memBefore.rss_mb,
      rss_mb_after: memAfter.rss_mb,
      heap_mb_before: memBefore.heap_mb,
      heap_mb_after: memAfter.heap_mb,
      heap_total_mb_before: memBefore.heap_total_mb,
      heap_total_mb_after: memAfter.heap_total_mb,
      external_mb_before: memBefore.external_mb,
      external_mb_after: memAfter.external_mb,
      scrape_ms_after: after.ms,
      scrape_bytes_before: before.bytes,
      scrape_bytes_after: after.bytes,
    };
    log(`${framework} ${variant}: ${r.new_series} new series, RSS ${r.rss_mb_before} -> ${r.rss_mb_after} MB, heap ${r.heap_mb_before} -> ${r.heap_mb_after} MB (total ${r.heap_total_mb_before} -> ${r.heap_total_mb_after}, external ${r.external_mb_before} -> ${r.external_mb_after}), scrape ${r.scrape_ms_after} ms / ${r.scrape_bytes_after} B`);
    return r;
  } finally {
    await stop(server);
  }
}

function render(result) {
  const rows = result.rows.map((r) =>
    r.unavailable
      ? [r.framework, r.variant, 'not available', '', '', '', '', '']
      : [
          r.framework,
          r.variant,
          r.series_before === null ? 'no /metrics' : `${r.series_before} → ${r.series_after}`,
          r.new_series ?? '',
          `${r.rss_mb_before} → ${r.rss_mb_after}`,
          `${r.heap_mb_before} → ${r.heap_mb_after}`,
          r.scrape_ms_after ?? '',
          r.scrape_ms_after === null ? '' : (r.scrape_bytes_after / 1e6).toFixed(2),
        ],
  );
  return `${machineLine(result)} ${result.requests.toLocaleString('en-US')} requests to \`/random/<random word>\` (all 404), 32 connections, after a warm-up of the same number of requests to the real route, 100 random paths and one scrape; new series are those of the \`http_\` request metrics; memory read in the server after a full garbage collection.\n\n${table(
    ['framework', 'variant', 'all series before → after', 'new http_ series', 'RSS MB', 'heap MB', 'scrape after (ms)', 'scrape after (MB)'],
    rows,
  )}`;
}

async function main() {
  const meta = machineMeta();
  const argv = process.argv.slice(2);
  if (argv.includes('--render')) {
    rerender('cardinality', RESULTS, render);
    return;
  }
  const at = argv.indexOf('--requests');
  const requests = at >= 0 ? Number(argv[at + 1]) : argv.includes('--quick') ? 20_000 : 100_000;
  const rows = [];
  for (const framework of ['fastify', 'express']) {
    for (const variant of ['bare', 'metrics', 'peer-metrics']) rows.push(await attack(framework, variant, requests));
  }
  publish('cardinality', RESULTS, { ...meta, requests, rows }, render);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
