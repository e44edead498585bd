// Cluster scenario (issue 17): a periscope primary (instrumentPrimary) and 8 workers, each holding
// 2,000 label sets of the request metrics (2,000 routes, each requested once by the worker itself).
// Measures the merged scrape at the primary (wall time from request to the body's last byte, as
// Prometheus sees it) and the primary's RSS growth over all the scrapes, warm-up ones included
// (from /proc: the largest value seen, against the value once the workers are warm and before
// the first scrape). Targets: scrape within 250 ms, RSS growth at most 50 MB.
//   node bench/cluster.mjs [--workers 8] [--label-sets 2000] [--scrapes 10] [--render]
// Needs dist/ (`npm run build`). Loopback only; the primary and its workers are killed at the end.
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
const RESULT = join(ROOT, 'bench', 'results', 'cluster.json');

function render(r) {
  const rows = [
    ['merged scrape, median', `${r.scrape_ms.median} ms`, '250 ms'],
    ['merged scrape, slowest', `${r.scrape_ms.max} ms`, '250 ms'],
    ['collect from the workers (periscope_cluster_collect_duration_seconds), mean', `${r.collect_ms_mean} ms`, ''],
    ['body', `${(r.body_bytes / 1e6).toFixed(1)} MB, ${r.series} series`, ''],
    ['workers that answered in time', `${r.responded} of ${r.workers}`, ''],
    ['primary RSS growth over the scrapes', `${r.rss_growth_mb} MB (from ${r.rss_before_mb} MB)`, '50 MB'],
  ];
  return `${machineLine(r)} ${r.workers} workers x ${r.label_sets} label sets, ${r.scrapes} scrapes after 3 warm-up ones, timed by ${r.client ?? 'fetch'}.\n\n${table(['measure', 'result', 'target'], rows)}`;
}

if (argv.includes('--render')) {
  rerender('cluster', RESULT, render);
  process.exit(0);
}

const rssMb = (pid) => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]) / 1024;
};

const meta = machineMeta();
const child = spawn(process.execPath, [join(ROOT, 'test', 'fixtures', 'cluster-app.mjs')], {
  env: { ...process.env, WORKERS: String(WORKERS), LABEL_SETS: String(LABEL_SETS) },
  stdio: ['ignore', 'pipe', 'inherit'],
});
// The primary drains its workers on SIGTERM; whatever happens to this script, it is sent one.
process.on('exit', () => child.kill('SIGTERM'));
let out = '';
const waiters = [];
child.stdout.setEncoding('utf8').on('data', (chunk) => {
  out += chunk;
  for (const w of waiters.splice(0)) w();
});
const events = () => out.split('\n').filter((l) => l.startsWith('{"event"')).map((l) => JSON.parse(l));
async function until(test, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out; primary said: ${out}`);
    await new Promise((r) => {
      waiters.push(r);
      setTimeout(r, 200);
    });
  }
}

await until(() => events().some((e) => e.event === 'metrics'), 60_000);
const base = `http://127.0.0.1:${events().find((e) => e.event === 'metrics').port}`;
await until(() => events().filter((e) => e.event === 'warm').length >= WORKERS, 300_000);

// Timed by curl (as bench/scrape.mjs does): a client in this process would spend the CPU of
// decoding 39 MB into a string on the same 2 cores, inside the timing. The last body is read in
// full once, untimed, for its counts.
const CURL = spawnSync('sh', ['-c', 'command -v curl']).status === 0;
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
let last;
for (let i = 0; i < SCRAPES; i++) {
  last = await scrape();
  if (last.status !== 200) throw new Error(`scrape answered ${last.status}`);
  times.push(last.ms);
  peak = Math.max(peak, rssMb(child.pid));
}
last.text = await (await fetch(`${base}/metrics`)).text();
const value = (name) => Number(last.text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1]);
const collectSum = value('periscope_cluster_collect_duration_seconds_sum');
const collectCount = value('periscope_cluster_collect_duration_seconds_count');
times.sort((a, b) => a - b);
const result = {
  ...meta,
  workers: WORKERS,
  label_sets: LABEL_SETS,
  scrapes: SCRAPES,
  scrape_ms: { median: +times[Math.floor(times.length / 2)].toFixed(1), max: +times.at(-1).toFixed(1) },
  collect_ms_mean: +((collectSum / collectCount) * 1000).toFixed(1),
  client: CURL ? 'curl' : 'fetch',
  body_bytes: Buffer.byteLength(last.text),
  series: last.text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length,
  responded: value('periscope_cluster_workers_responded'),
  rss_before_mb: +before.toFixed(1),
  rss_growth_mb: +(peak - before).toFixed(1),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
publish('cluster', RESULT, result, render);
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
process.exit(0);
