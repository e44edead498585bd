// Instructions per request, counted by valgrind's callgrind: a figure that other processes on
// the machine cannot move, unlike requests/s or even CPU time.
//   node bench/callgrind.mjs [--frameworks fastify,express] [--variants bare,metrics,...] [--render]
//                            [--window 1200,4200] [--no-idle]
// For each framework and variant, bench/callgrind-driver.mjs (server and keep-alive client in one
// process) runs under callgrind with N = 1,200 and N = 4,200 requests; the difference over 3,000
// is the cost of one request (the client is a raw socket: a few hundred instructions of it are
// in the figure), with start-up cancelled out.
// JIT warm-up does not cancel out by itself: V8 was still compiling request-path code (Maglev,
// then TurboFan) well past request 4,200, at 20-60% of the old per-request figure, and more the
// more code a variant runs (an export's first run sends shared stream code back to a lower tier,
// so full-10 read 206,000 in one window and 320,000 in a later one). So each run first serves
// WARMUP requests, exports the spans queued (as a server does every few seconds), and serves
// WARMUP more; and the optimizing compilers' own work (`Compiler::CompileOptimized`, inclusive)
// is left out of the count like the timer phase below, and reported in a column of its own.
// Node runs with V8's --predictable (no concurrent compilation or GC threads): without it, two
// runs of the same bare server differed by a third when the machine was busy.
// Timer-driven work (the event-loop delay monitor's 10 ms timer, the client's 100 ms
// event-loop-utilization interval, a health checker's interval) runs per second of wall time,
// and a request under valgrind takes 5-15 ms of it, more on a busy machine: left in, it moved
// the per-request figure by 15% between runs of one build. So whatever runs inside libuv's timer
// phase (`uv__run_timers`, inclusive, read from the profile) is left out of each run's total.
// Span export is request work, not timer work: the runs set a batch schedule delay no run
// reaches, so spans are exported when a batch fills (from the request path) or after the loop
// (the driver flushes them), both counted. (An earlier version took an idle rate times the
// loop's wall time out instead; timers fire less often while the loop is busy than when idle,
// so it took out too much, by up to 7,000 instructions a request.) Each variant also idles under
// callgrind for IDLE_SHORT and IDLE_LONG seconds; their difference, timers included, is its idle
// instructions per second, a product figure of its own.
// Writes bench/results/callgrind.json and the README table.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineMeta, publish, rerender, table } from './lib/readme.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const IDLE_SHORT = 10;
const IDLE_LONG = 30;
const argv = process.argv.slice(2);
const list = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1].split(',') : fallback;
};
// `--window 4200,10200` counts another window (to check that a figure does not move with it).
const [SMALL, LARGE] = list('--window', ['1200', '4200']).map(Number);
// Requests and one span export before each run's count starts (bench/callgrind-driver.mjs).
const WARMUP = 10_000;
// `--no-idle` skips the idle column's two runs.
const IDLE = !argv.includes('--no-idle');

function render(r) {
  return table(
    ['framework', 'variant', 'instructions / request', 'vs bare', 'JIT compiling in the window / request', 'idle instructions / s'],
    r.rows.map((x) => [
      x.framework,
      x.variant,
      x.per_request.toLocaleString('en-US'),
      x.vs_bare === null ? '' : `${x.vs_bare >= 0 ? '+' : ''}${(100 * x.vs_bare).toFixed(1)}%`,
      x.compile_per_request === undefined ? '' : x.compile_per_request.toLocaleString('en-US'),
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

/**
 * What a run spent on work that is not the requests' own, from its callgrind profile (inclusive
 * costs): libuv's timer phase (`uv__run_timers`), and V8's optimizing compilers (Maglev and
 * TurboFan, `Compiler::CompileOptimized`; with --predictable they compile on the main thread).
 * A compilation that a timer callback set off is in both, so it is taken out twice: timers run
 * the same few callbacks, which are compiled long before the counted loop, so this is small.
 */
function overheads(out) {
  const annotated = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', out], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (annotated.error !== undefined) throw annotated.error;
  const lines = annotated.stdout.split('\n');
  const cost = (line) => Number(line.trim().split(/\s+/)[0].replaceAll(',', ''));
  const timer = lines.find((l) => /timer\.c:uv__run_timers\b/.test(l));
  if (annotated.status !== 0 || timer === undefined) throw new Error(`no uv__run_timers in ${out}: ${annotated.stderr.slice(-500)}`);
  let compile = 0;
  for (const l of lines) if (/v8::internal::Compiler::CompileOptimized(OSR)?\(/.test(l)) compile += cost(l);
  return { timers: cost(timer), compile };
}

/** Total instructions of one run, those in the timer phase, and the wall time of its request loop in ms. */
function instructions(framework, variant, n, sink, idle = 0) {
  // The idle runs count timers per second: no warm-up needed.
  const warmup = idle === 0 ? WARMUP : 0;
  const dir = mkdtempSync(join(tmpdir(), 'periscope-callgrind-'));
  const args = ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'out')}`, '--smc-check=all-non-file', process.execPath, '--predictable', '--expose-gc', join(here, 'callgrind-driver.mjs'), framework, variant, String(n), '--sink', sink, '--idle', String(idle), '--warmup', String(warmup)];
  // Counted runs leave the Prometheus client's runtime metrics off: their sampling timers (event-loop
  // utilization every 100 ms and kin) fire per second of wall time, and a collection or compilation
  // landing in one of them or outside moved a run's timer phase by ~13 million instructions (±4,000
  // a request). The idle runs keep them: the idle column is what the product costs.
  const runtime = idle === 0 ? { BENCH_RUNTIME_METRICS: 'off' } : {};
  const child = spawn('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OTEL_BSP_SCHEDULE_DELAY: '3600000', ...runtime } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr = (stderr + chunk).slice(-64 * 1024)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 40 * 60_000);
  return new Promise((resolve, reject) => {
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const total = /Collected : (\d+)/.exec(stderr)?.[1];
      const loopMs = /driver-loop-ms: ([\d.]+)/.exec(stderr)?.[1];
      try {
        if (status !== 0 || total === undefined || loopMs === undefined) throw new Error(`${framework} ${variant} N=${n} failed (${status ?? signal}): ${stderr.slice(-2000)}`);
        resolve({ total: Number(total), ...overheads(join(dir, 'out')), loopMs: Number(loopMs) });
      } catch (error) {
        reject(error);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
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
      const [short, long] = IDLE ? await Promise.all([instructions(framework, variant, SMALL, sink.url, IDLE_SHORT), instructions(framework, variant, SMALL, sink.url, IDLE_LONG)]) : [];
      const idlePerSecond = short === undefined ? undefined : Math.max(0, Math.round((long.total - short.total) / (IDLE_LONG - IDLE_SHORT)));
      const raw = (large.total - small.total) / (LARGE - SMALL);
      const timed = large.timers - small.timers;
      const compiled = large.compile - small.compile;
      const perRequest = Math.round((large.total - small.total - timed - compiled) / (LARGE - SMALL));
      if (variant === 'bare') bare = perRequest;
      rows.push({
        framework,
        variant,
        per_request: perRequest,
        vs_bare: bare === null || variant === 'bare' ? null : +(perRequest / bare - 1).toFixed(4),
        idle_per_second: idlePerSecond,
        raw_per_request: Math.round(raw),
        compile_per_request: Math.round(compiled / (LARGE - SMALL)),
        totals: { [SMALL]: small.total, [LARGE]: large.total, ...(short === undefined ? {} : { [`idle ${IDLE_SHORT} s`]: short.total, [`idle ${IDLE_LONG} s`]: long.total }) },
        timer_phase: { [SMALL]: small.timers, [LARGE]: large.timers },
        compile: { [SMALL]: small.compile, [LARGE]: large.compile },
        loop_ms: { [SMALL]: Math.round(small.loopMs), [LARGE]: Math.round(large.loopMs) },
      });
      process.stderr.write(`${framework} ${variant}: ${perRequest} instructions / request (${Math.round(compiled / (LARGE - SMALL))} more compiling; ${Math.round(raw)} with that and the timer phase${idlePerSecond === undefined ? '' : `; idle ${idlePerSecond} instructions/s`})\n`);
    }
  }
} finally {
  sink.stop();
}
const result = { ...meta, method: `callgrind, node --predictable, ((Ir - Ir in uv__run_timers - Ir in Compiler::CompileOptimized) at N=${LARGE} - the same at N=${SMALL}) / ${LARGE - SMALL}, server and raw-socket keep-alive client in one process, the Prometheus client's runtime metrics off in counted runs, each run first sending ${WARMUP} requests, exporting the spans queued, and sending ${WARMUP} more; spans exported when a batch fills or flushed after the loop (OTEL_BSP_SCHEDULE_DELAY=3600000); idle Ir/s = (Ir idle ${IDLE_LONG} s - Ir idle ${IDLE_SHORT} s) / ${IDLE_LONG - IDLE_SHORT}, timers included`, rows };
publish('callgrind', join(here, 'results', 'callgrind.json'), result, render);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
