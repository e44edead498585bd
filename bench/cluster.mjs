// Cluster scenario (issue 17): a periscope primary (instrumentPrimary) and 8 workers, each holding
// 2,000 label sets of the request metrics (2,000 routes, each requested once by the worker itself).
// Measures the merged scrape at the primary (wall time from request to the body's last byte, as
// Prometheus sees it, timed by curl) and the primary's RSS growth over all the scrapes, warm-up
// ones included (from /proc: the largest value seen, against the value once the workers are warm
// and before the first scrape). Targets: scrape within 250 ms, RSS growth at most 50 MB.
// Two variants: the primary as started by default, and with V8's young generation capped
// (`--max-semi-space-size=16`; the workers inherit it), since that is where the growth goes.
//   node bench/cluster.mjs [--workers 8] [--label-sets 2000] [--scrapes 10] [--render]
// Needs dist/ (`npm run build`). Loopback only; each primary drains its workers at the end.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib/procs.mjs';
import { machineLine, machineMeta, publish, rerender, table } from './lib/readme.mjs';

const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const WORKERS = arg('workers', 8);
const LABEL_SETS = arg('label-sets', 2000);
const SCRAPES = arg('scrapes', 10);
const VARIANTS = [[], ['--max-semi-space-size=16']];
const RESULT = join(ROOT, 'bench', 'results', 'cluster.json');

function render(r) {
  const rows = r.runs.map((x) => [
    x.node_flags === '' ? 'default' : `\`${x.node_flags}\``,
    `${x.scrape_ms.median} ms`,
    `${x.scrape_ms.max} ms`,
    `${x.collect_ms_mean} ms`,
    `${x.responded} of ${r.workers}`,
    `${x.rss_before_mb} MB`,
    `${x.rss_growth_mb} MB`,
  ]);
  const body = r.runs[0];
  return (
    `${machineLine(r)} ${r.workers} workers x ${r.label_sets} label sets, ${r.scrapes} scrapes after 3 warm-up ones, timed by ${r.client}; ` +
    `the body is ${(body.body_bytes / 1e6).toFixed(1)} MB, ${body.series} series. Targets: 250 ms, 50 MB.\n\n` +
    table(['primary (and workers) started with', 'scrape p50', 'scrape max', 'collect mean', 'answered', 'primary RSS before', 'RSS growth'], rows)
  );
}

if (argv.includes('--render')) {
  rerender('cluster', RESULT, render);
  process.exit(0);
}

const rssMb = (pid) => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]) / 1024;
};

// Timed by curl (as bench/scrape.mjs does): a client in this process would spend the CPU of
// reading 39 MB on the same 2 cores, inside the timing.
const CURL = spawnSync('sh', ['-c', 'command -v curl']).status === 0;

async function measure(flags) {
  const child = spawn(process.execPath, [...flags, join(ROOT, 'test', 'fixtures', 'cluster-app.mjs')], {
    env: { ...process.env, WORKERS: String(WORKERS), LABEL_SETS: String(LABEL_SETS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The primary drains its workers on SIGTERM; whatever happens to this script, it is sent one.
  const onExit = () => child.kill('SIGTERM');
  process.on('exit', onExit);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
  const events = () => out.split('\n').filter((l) => l.startsWith('{"event"')).map((l) => JSON.parse(l));
  async function until(test, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out; primary said: ${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await until(() => events().some((e) => e.event === 'metrics'), 60_000);
  const base = `http://127.0.0.1:${events().find((e) => e.event === 'metrics').port}`;
  await until(() => events().filter((e) => e.event === 'warm').length >= WORKERS, 300_000);

  async function scrape() {
    if (CURL) {
      const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', `${base}/metrics`], { encoding: 'utf8' });
      const [status, seconds] = r.stdout.trim().split(' ');
      return { ms: Number(seconds) * 1000, status: Number(status) };
    }
    const t0 = performance.now();
    const res = await fetch(`${base}/metrics`);
    await res.arrayBuffer();
    return { ms: performance.now() - t0, status: res.status };
  }

  // RSS from before the first scrape: the warm-up scrapes' growth counts too.
  const before = rssMb(child.pid);
  let peak = before;
  for (let i = 0; i < 3; i++) {
    await scrape();
    peak = Math.max(peak, rssMb(child.pid));
  }
  const times = [];
  for (let i = 0; i < SCRAPES; i++) {
    const s = await scrape();
    if (s.status !== 200) throw new Error(`scrape answered ${s.status}`);
    times.push(s.ms);
    peak = Math.max(peak, rssMb(child.pid));
  }
  // The last body, read in full once (untimed), for its counts.
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (name) => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1]);
  times.sort((a, b) => a - b);
  const result = {
    node_flags: flags.join(' '),
    scrape_ms: { median: +times[Math.floor(times.length / 2)].toFixed(1), max: +times.at(-1).toFixed(1) },
    collect_ms_mean: +((value('periscope_cluster_collect_duration_seconds_sum') / value('periscope_cluster_collect_duration_seconds_count')) * 1000).toFixed(1),
    body_bytes: Buffer.byteLength(text),
    series: text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length,
    responded: value('periscope_cluster_workers_responded'),
    rss_before_mb: +before.toFixed(1),
    rss_growth_mb: +(peak - before).toFixed(1),
  };
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  process.off('exit', onExit);
  return result;
}

const result = { ...machineMeta(), workers: WORKERS, label_sets: LABEL_SETS, scrapes: SCRAPES, client: CURL ? 'curl' : 'fetch', runs: [] };
for (const flags of VARIANTS) {
  const run = await measure(flags);
  process.stdout.write(`${JSON.stringify(run)}\n`);
  result.runs.push(run);
}
publish('cluster', RESULT, result, render);
process.exit(0);
