// Instructions per request, counted by valgrind's callgrind: a figure that other processes on
// the machine cannot move, unlike requests/s or even CPU time.
//   node bench/callgrind.mjs [--frameworks fastify,express] [--variants bare,metrics,...] [--render]
// For each framework and variant, bench/callgrind-driver.mjs (server and keep-alive client in one
// process) runs under callgrind with N = 1,200 and N = 4,200 requests; the difference over 3,000
// is the cost of one request, client included, with start-up and JIT warm-up cancelled out.
// Node runs with V8's --predictable (no concurrent compilation or GC threads): without it, two
// runs of the same bare server differed by a third when the machine was busy.
// Timer-driven work (the event-loop delay monitor's 10 ms timer, a health checker's interval)
// runs per second of wall time, and a request under valgrind takes 5-15 ms of it, more on a busy
// machine: left in, it moved the per-request figure by 15% between runs of one build. So each
// variant also idles under callgrind for IDLE_SHORT and IDLE_LONG seconds; their difference is
// its idle instructions per second, which is reported on its own and taken out of the
// per-request figure for the wall time the 3,000 requests took.
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
const IDLE_SHORT = 10;
const IDLE_LONG = 30;
const argv = process.argv.slice(2);
const list = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1].split(',') : fallback;
};

function render(r) {
  return table(
    ['framework', 'variant', 'instructions / request', 'vs bare', 'idle instructions / s'],
    r.rows.map((x) => [
      x.framework,
      x.variant,
      x.per_request.toLocaleString('en-US'),
      x.vs_bare === null ? '' : `${x.vs_bare >= 0 ? '+' : ''}${(100 * x.vs_bare).toFixed(1)}%`,
      x.idle_per_second === undefined ? '' : x.idle_per_second.toLocaleString('en-US'),
    ]),
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

/** Total instructions of one run, and the wall time of its request loop in ms. */
function instructions(framework, variant, n, sink, idle = 0) {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-callgrind-'));
  const args = ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'out')}`, '--smc-check=all-non-file', process.execPath, '--predictable', '--expose-gc', join(here, 'callgrind-driver.mjs'), framework, variant, String(n), '--sink', sink, '--idle', String(idle)];
  const child = spawn('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr = (stderr + chunk).slice(-64 * 1024)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15 * 60_000);
  return new Promise((resolve, reject) => {
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      const total = /Collected : (\d+)/.exec(stderr)?.[1];
      const loopMs = /driver-loop-ms: ([\d.]+)/.exec(stderr)?.[1];
      if (status !== 0 || total === undefined || loopMs === undefined) reject(new Error(`${framework} ${variant} N=${n} failed (${status ?? signal}): ${stderr.slice(-2000)}`));
      else resolve({ total: Number(total), loopMs: Number(loopMs) });
    });
  });
}

const meta = machineMeta();
const sink = await startSink();
const rows = [];
try {
  for (const framework of list('--frameworks', ['fastify', 'express'])) {
    let bare = null;
    for (const variant of list('--variants', ['bare', 'metrics', 'metrics+logs', 'full-10', 'full-100'])) {
      const small = await instructions(framework, variant, SMALL, sink.url);
      const large = await instructions(framework, variant, LARGE, sink.url);
      // The two idle runs mostly sleep: run together.
      const [short, long] = await Promise.all([instructions(framework, variant, SMALL, sink.url, IDLE_SHORT), instructions(framework, variant, SMALL, sink.url, IDLE_LONG)]);
      const idlePerSecond = Math.max(0, Math.round((long.total - short.total) / (IDLE_LONG - IDLE_SHORT)));
      const timed = (idlePerSecond * (large.loopMs - small.loopMs)) / 1000;
      const raw = (large.total - small.total) / (LARGE - SMALL);
      const perRequest = Math.round((large.total - small.total - timed) / (LARGE - SMALL));
      if (variant === 'bare') bare = perRequest;
      rows.push({
        framework,
        variant,
        per_request: perRequest,
        vs_bare: bare === null || variant === 'bare' ? null : +(perRequest / bare - 1).toFixed(4),
        idle_per_second: idlePerSecond,
        raw_per_request: Math.round(raw),
        totals: { [SMALL]: small.total, [LARGE]: large.total, [`idle ${IDLE_SHORT} s`]: short.total, [`idle ${IDLE_LONG} s`]: long.total },
        loop_ms: { [SMALL]: Math.round(small.loopMs), [LARGE]: Math.round(large.loopMs) },
      });
      process.stderr.write(`${framework} ${variant}: ${perRequest} instructions / request (${Math.round(raw)} before taking out ${idlePerSecond} idle instructions/s over ${Math.round(large.loopMs - small.loopMs)} ms)\n`);
    }
  }
} finally {
  sink.stop();
}
const result = { ...meta, method: `callgrind, node --predictable, (Ir at N=${LARGE} - Ir at N=${SMALL} - idle Ir/s x their loops' wall-time difference) / ${LARGE - SMALL}, server and keep-alive client in one process; idle Ir/s = (Ir idle ${IDLE_LONG} s - Ir idle ${IDLE_SHORT} s) / ${IDLE_LONG - IDLE_SHORT}`, rows };
publish('callgrind', join(here, 'results', 'callgrind.json'), result, render);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
