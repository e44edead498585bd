// Tail latency (issue 23, item 4): long wrk runs per variant with the latency distribution's
// p99 and p99.9, the server's own event-loop delay histogram and its GC pauses, so a stall can
// be placed: in the server's loop (loop delay and GC show it), or in the machine (bare has it
// too, the server's loop does not).
//
//   node bench/tails.mjs [--frameworks fastify,express] [--variants bare,metrics,full-10,peer-metrics,peer-full-10]
//                        [--duration S] [--warmup S] [--reps N] [--connections N] [--settle S] [--render]
//
// One server per (framework, variant), pinned to CPU 0, started with `--loop-stats`
// (bench/servers/loop-stats.mjs); wrk pinned to CPU 1 with `--latency` and
// bench/lib/percentiles.lua (p99.9). Repetitions interleave the variants, rotated. 127.0.0.1
// only; every wrk run is killed 20 s after its end. Writes bench/results/tails.json and the
// `tails` table of bench/README.md. Targets (issue 23): every periscope variant's p99 and p99.9
// at most 1.5x bare's and at most its peer variant's; judged only when the 1-minute load
// average was at most 1.0 at the start and the end, and runs lasted at least 30 s.
import { join } from 'node:path';
import { VARIANTS } from './servers/common.mjs';
import { PINNING, ROOT, cpuMicros, loadTails, loopStats, resetLoopStats, startServer, startVariants, stop, warmAndRotate } from './lib/procs.mjs';
import { loadMeta, quietWindow } from './lib/quiet.mjs';
import { machineMeta, publish, rerender, resultHeader, table } from './lib/readme.mjs';
import { median, pairedRatioRange } from './lib/stats.mjs';

const RESULTS = join(ROOT, 'bench', 'results', 'tails.json');
const FRAMEWORKS = ['fastify', 'express'];
const DEFAULT_VARIANTS = ['bare', 'metrics', 'full-10', 'peer-metrics', 'peer-full-10'];
/** The issue asks for runs of at least this long before a tail is judged. */
const MIN_JUDGED_SECONDS = 30;
/** The periscope variants compared, each with its peer: [variant, peer]. */
const PAIRS = [
  ['metrics', 'peer-metrics'],
  ['metrics+logs', null],
  ['full-10', 'peer-full-10'],
  ['full-100', 'peer-full-100'],
];
const MAX_TO_BARE = 1.5;
const log = (line) => process.stderr.write(`${line}\n`);

function parseArgs(argv) {
  const opt = (name) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const list = (name, all, dflt) => {
    const v = opt(name);
    if (v === undefined) return dflt;
    const picked = v.split(',');
    for (const p of picked) if (!all.includes(p)) throw new Error(`${name}: unknown ${p}; known: ${all.join(', ')}`);
    return picked;
  };
  const variants = list('--variants', VARIANTS, DEFAULT_VARIANTS);
  return {
    render: argv.includes('--render'),
    frameworks: list('--frameworks', FRAMEWORKS, FRAMEWORKS),
    // bare always runs: every ratio is to it.
    variants: variants.includes('bare') ? variants : ['bare', ...variants],
    duration: Number(opt('--duration') ?? 30),
    warmup: Number(opt('--warmup') ?? 5),
    reps: Number(opt('--reps') ?? 1),
    connections: Number(opt('--connections') ?? 64),
    settle: Number(opt('--settle') ?? 90),
  };
}

const r3 = (x) => (x === null || x === undefined || Number.isNaN(x) ? null : +x.toFixed(3));

async function measure(opts) {
  const sink = await startServer('otlp-sink', [], { cpu: PINNING?.load });
  const sinkUrl = `http://127.0.0.1:${sink.port}/v1/traces`;
  const servers = [];
  const skipped = [];
  try {
    // The start reading before any server runs or wrk loads one.
    const quiet = await quietWindow(opts.settle, log);
    await startVariants(opts.frameworks, opts.variants, ['--sink', sinkUrl, '--loop-stats'], servers, skipped, log);
    await warmAndRotate(servers, opts, loadTails, async (s, rep) => {
      await resetLoopStats(s);
      const cpuBefore = cpuMicros(s.pid);
      const w = await loadTails(s.url, opts.duration, opts.connections);
      const cpu = (cpuMicros(s.pid) - cpuBefore) / w.requests;
      const loop = await loopStats(s);
      log(
        `rep ${rep + 1}/${opts.reps} ${s.framework} ${s.variant}: ${Math.round(w.rps)} req/s, p99 ${w.p99_ms.toFixed(1)} ms, p99.9 ${w.p999_ms.toFixed(1)} ms, max ${w.max_ms.toFixed(0)} ms; loop delay p99 ${loop.loop_delay.p99_ms.toFixed(1)} ms, max ${loop.loop_delay.max_ms.toFixed(0)} ms; GC ${loop.gc.count} pauses, ${loop.gc.total_ms.toFixed(0)} ms, max ${loop.gc.max_ms.toFixed(1)} ms`,
      );
      return { ...w, cpu_us_per_request: cpu, loop_delay: loop.loop_delay, gc: loop.gc };
    }, log);
    // The end reading after the servers, the sink and wrk have stopped (their own load decays
    // meanwhile; their CPU time counts as this process's children's once they have exited).
    await Promise.all(servers.map((s) => stop(s)));
    await stop(sink);
    return { servers, skipped, readings: await quiet.end() };
  } finally {
    await Promise.all(servers.map((s) => stop(s)));
    await stop(sink);
  }
}

function summarize(opts, { servers, skipped, readings }) {
  const med = (s, f) => r3(median(s.runs.map(f)));
  const rows = servers.map((s) => ({
    framework: s.framework,
    variant: s.variant,
    reps: s.runs.length,
    rps: Math.round(median(s.runs.map((r) => r.rps))),
    p50_ms: med(s, (r) => r.p50_ms),
    p99_ms: med(s, (r) => r.p99_ms),
    p999_ms: med(s, (r) => r.p999_ms),
    max_ms: med(s, (r) => r.max_ms),
    errors: s.runs.reduce((n, r) => n + r.errors, 0),
    cpu_us_per_request: med(s, (r) => r.cpu_us_per_request),
    loop_p99_ms: med(s, (r) => r.loop_delay.p99_ms),
    loop_p999_ms: med(s, (r) => r.loop_delay.p999_ms),
    loop_max_ms: med(s, (r) => r.loop_delay.max_ms),
    gc_count: med(s, (r) => r.gc.count),
    gc_total_ms: med(s, (r) => r.gc.total_ms),
    gc_max_ms: med(s, (r) => r.gc.max_ms),
    runs: s.runs,
  }));
  const load = loadMeta(readings, opts.settle);
  const verdict = load.verdict;
  if (verdict.judged && opts.duration < MIN_JUDGED_SECONDS) {
    verdict.judged = false;
    verdict.reason = `runs of ${opts.duration} s, shorter than the ${MIN_JUDGED_SECONDS} s a tail needs: the figures are reported but no target is judged met or missed`;
  }
  // Each periscope variant against bare (at most 1.5x) and against its peer (at most 1x), on
  // p99 and p99.9: the median over repetitions of the paired (same repetition) ratio.
  const comparisons = [];
  const find = (framework, variant) => servers.find((s) => s.framework === framework && s.variant === variant);
  for (const framework of opts.frameworks) {
    for (const [variant, peer] of PAIRS) {
      const a = find(framework, variant);
      if (!a) continue;
      for (const [against, max] of [['bare', MAX_TO_BARE], [peer, 1]]) {
        const b = against && find(framework, against);
        if (!b) continue;
        for (const [stat, key] of [['p99', 'p99_ms'], ['p99.9', 'p999_ms']]) {
          const ratio = pairedRatioRange(a.runs.map((r) => r[key]), b.runs.map((r) => r[key]));
          comparisons.push({
            framework,
            variant,
            against,
            stat,
            max,
            ratio: r3(ratio?.median),
            ratio_min: r3(ratio?.min),
            ratio_max: r3(ratio?.max),
            met: verdict.judged && ratio ? ratio.median <= max : null,
          });
        }
      }
    }
  }
  return {
    ...machineMeta(),
    ...load,
    options: { duration: opts.duration, warmup: opts.warmup, reps: opts.reps, connections: opts.connections },
    pinning: PINNING,
    rows,
    comparisons,
    skipped,
  };
}

const ratioCell = (c) => (c.ratio === null ? 'n/a' : c.ratio_min === c.ratio_max ? `${c.ratio.toFixed(2)}x` : `${c.ratio.toFixed(2)}x (${c.ratio_min.toFixed(2)}–${c.ratio_max.toFixed(2)})`);
const metCell = (c) => (c.ratio === null ? 'not measured' : c.met === null ? 'not judged' : c.met ? 'yes' : '**no**');

function render(result) {
  const o = result.options;
  const how = `${o.reps} repetition${o.reps === 1 ? '' : 's'} of ${o.duration} s per server after a ${o.warmup} s warm-up, ${o.connections} connections, wrk --latency${result.pinning ? ` pinned to CPU ${result.pinning.load}, servers on CPU ${result.pinning.server}` : ''}; figures are medians over repetitions. Loop delay is the server's monitorEventLoopDelay histogram (10 ms resolution: an idle loop reads about 10 ms, a stall of N ms reads about N); GC is the server's 'gc' performance entries over the run.`;
  const rows = result.rows.map((r) => [r.framework, r.variant, r.rps, r.p50_ms.toFixed(2), r.p99_ms.toFixed(2), r.p999_ms.toFixed(2), r.max_ms.toFixed(1), r.loop_p99_ms.toFixed(1), r.loop_max_ms.toFixed(1), r.gc_count, r.gc_total_ms.toFixed(0), r.gc_max_ms.toFixed(1), r.cpu_us_per_request.toFixed(1)]);
  const comparisons = result.comparisons.map((c) => [c.framework, c.variant, c.against, c.stat, `≤ ${c.max}x`, ratioCell(c), metCell(c)]);
  const skipped = result.skipped.map((s) => `- ${s.framework} \`${s.variant}\`: not available: ${s.reason}`).join('\n');
  return `${resultHeader(result, how)}\n\n${table(
    ['framework', 'variant', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'loop delay p99 ms', 'loop delay max ms', 'GC pauses', 'GC total ms', 'GC max ms', 'server CPU µs / request'],
    rows,
  )}\n\n${skipped ? `${skipped}\n\n` : ''}${table(['framework', 'variant', 'against', 'latency', 'target', 'paired ratio, median (min–max)', 'met'], comparisons)}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.render) {
    rerender('tails', RESULTS, render);
    return;
  }
  const servers = opts.frameworks.length * opts.variants.length;
  log(`tails: ${opts.frameworks.join(', ')} x ${opts.variants.join(', ')}; ${opts.reps} x ${opts.duration} s per server, about ${Math.ceil((servers * (opts.reps * opts.duration + opts.warmup)) / 60)} min of load plus up to ${2 * opts.settle} s waiting for a quiet machine`);
  const result = summarize(opts, await measure(opts));
  publish('tails', RESULTS, result, render);
  process.stdout.write(`${render(result)}\n`);
  const failed = result.rows.filter((r) => r.errors > 0);
  for (const r of failed) log(`${r.framework} ${r.variant}: ${r.errors} errors`);
}

await main();
