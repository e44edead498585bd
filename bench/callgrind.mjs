// Instructions per request, counted by valgrind's callgrind: a figure that other processes on
// the machine cannot move, unlike requests/s or even CPU time.
//   node bench/callgrind.mjs [--frameworks fastify,express] [--variants bare,metrics,...] [--render]
// For each framework and variant, bench/callgrind-driver.mjs (server and keep-alive client in one
// process) runs under callgrind with N = 1,200 and N = 4,200 requests; the difference over 3,000
// is the cost of one request, client included, with start-up and JIT warm-up cancelled out.
// Node runs with V8's --predictable (no concurrent compilation or GC threads): without it, two
// runs of the same bare server differed by a third when the machine was busy.
// Writes bench/results/callgrind.json and the README table.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineMeta, publish, rerender, table } from './lib/readme.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SMALL = 1200;
const LARGE = 4200;
const argv = process.argv.slice(2);
const list = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1].split(',') : fallback;
};

function render(r) {
  return table(
    ['framework', 'variant', 'instructions / request', 'vs bare'],
    r.rows.map((x) => [x.framework, x.variant, x.per_request.toLocaleString('en-US'), x.vs_bare === null ? '' : `${x.vs_bare >= 0 ? '+' : ''}${(100 * x.vs_bare).toFixed(1)}%`]),
  );
}

if (argv.includes('--render')) {
  rerender('callgrind', join(here, 'results', 'callgrind.json'), render);
  process.exit(0);
}

if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('bench/callgrind.mjs needs valgrind (apt-get install valgrind)');
  process.exit(1);
}

/** The OTLP sink the full-* variants export to, outside valgrind (its work is not the server's). */
async function startSink() {
  const child = spawn(process.execPath, [join(here, 'servers', 'otlp-sink.mjs')], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
  return { url: `http://127.0.0.1:${port}/v1/traces`, stop: () => child.kill() };
}

function instructions(framework, variant, n, sink) {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-callgrind-'));
  try {
    const r = spawnSync(
      'valgrind',
      ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'out')}`, '--smc-check=all-non-file', process.execPath, '--predictable', join(here, 'callgrind-driver.mjs'), framework, variant, String(n), '--sink', sink],
      { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 },
    );
    const total = /Collected : (\d+)/.exec(r.stderr ?? '')?.[1];
    if (r.status !== 0 || total === undefined) throw new Error(`${framework} ${variant} N=${n} failed (${r.status ?? r.signal}): ${(r.stderr ?? '').slice(-2000)}`);
    return Number(total);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const meta = machineMeta();
const sink = await startSink();
const rows = [];
try {
  for (const framework of list('--frameworks', ['fastify', 'express'])) {
    let bare = null;
    for (const variant of list('--variants', ['bare', 'metrics', 'metrics+logs', 'full-10', 'full-100'])) {
      const small = instructions(framework, variant, SMALL, sink.url);
      const large = instructions(framework, variant, LARGE, sink.url);
      const perRequest = Math.round((large - small) / (LARGE - SMALL));
      if (variant === 'bare') bare = perRequest;
      rows.push({ framework, variant, per_request: perRequest, vs_bare: bare === null || variant === 'bare' ? null : +(perRequest / bare - 1).toFixed(4), totals: { [SMALL]: small, [LARGE]: large } });
      process.stderr.write(`${framework} ${variant}: ${perRequest} instructions / request\n`);
    }
  }
} finally {
  sink.stop();
}
const result = { ...meta, method: `callgrind, node --predictable, (Ir at N=${LARGE} - Ir at N=${SMALL}) / ${LARGE - SMALL}, server and keep-alive client in one process`, rows };
publish('callgrind', join(here, 'results', 'callgrind.json'), result, render);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
