// What the developer console costs on the request path, in instructions per request counted by
// callgrind (as bench/callgrind.mjs counts them): Fastify `full-10` with the console off, here
// and in a baseline tree without the console (the same commit's main, built), and
// `full-10+console` with it on.
//   node bench/console-cost.mjs [--baseline DIR] [--variants metrics+logs,full-10]
// DIR is a built checkout of the baseline (`git archive main | tar -x -C DIR`, node_modules
// linked, `tsc -p tsconfig.build.json`). Writes bench/results/console-cost.json and the
// `console-cost` table of bench/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineMeta, publish, table } from './lib/readme.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SMALL = 1200;
const LARGE = 4200;
const argv = process.argv.slice(2);
const at = argv.indexOf('--baseline');
const baseline = at >= 0 ? argv[at + 1] : undefined;
const v = argv.indexOf('--variants');
const variants = v >= 0 ? argv[v + 1].split(',') : ['metrics+logs', 'full-10'];

if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('bench/console-cost.mjs needs valgrind (apt-get install valgrind)');
  process.exit(1);
}

async function startSink() {
  const child = spawn(process.execPath, [join(here, 'servers', 'otlp-sink.mjs')], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
  return { url: `http://127.0.0.1:${port}/v1/traces`, stop: () => child.kill() };
}

function instructions(benchDir, variant, n, sink) {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-console-cost-'));
  try {
    const r = spawnSync(
      'valgrind',
      ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'out')}`, '--smc-check=all-non-file', process.execPath, '--predictable', join(benchDir, 'callgrind-driver.mjs'), 'fastify', variant, String(n), '--sink', sink],
      // The console logs its URL at start: the servers' stdout goes nowhere, as in every variant.
      { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 },
    );
    const total = /Collected : (\d+)/.exec(r.stderr ?? '')?.[1];
    if (r.status !== 0 || total === undefined) throw new Error(`${variant} N=${n} failed (${r.status ?? r.signal}): ${(r.stderr ?? '').slice(-2000)}`);
    return Number(total);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const meta = machineMeta();
const sink = await startSink();
// Interleaved per variant, so a change in the machine's load between runs hits all three alike.
const runs = variants.flatMap((variant) => [
  ...(baseline === undefined ? [] : [{ tree: 'baseline (no console in the code)', dir: join(baseline, 'bench'), variant }]),
  { tree: 'this tree, console off', dir: here, variant },
  { tree: 'this tree, console on', dir: here, variant: `${variant}+console` },
]);
const rows = [];
try {
  for (const run of runs) {
    const small = instructions(run.dir, run.variant, SMALL, sink.url);
    const large = instructions(run.dir, run.variant, LARGE, sink.url);
    const perRequest = Math.round((large - small) / (LARGE - SMALL));
    rows.push({ tree: run.tree, variant: run.variant, per_request: perRequest, totals: { [SMALL]: small, [LARGE]: large } });
    process.stderr.write(`${run.tree} ${run.variant}: ${perRequest} instructions / request\n`);
  }
} finally {
  sink.stop();
}
for (const r of rows) {
  const base = r.variant.replace(/\+console$/, '');
  const ref = rows.find((x) => x.tree === 'this tree, console off' && x.variant === base)?.per_request;
  r.vs_console_off = ref === undefined ? null : +(r.per_request / ref - 1).toFixed(4);
}
const result = { ...meta, method: `callgrind, node --predictable, Fastify, (Ir at N=${LARGE} - Ir at N=${SMALL}) / ${LARGE - SMALL}, server and keep-alive client in one process`, rows };
publish('console-cost', join(here, 'results', 'console-cost.json'), result, (r) =>
  table(
    ['build', 'variant', 'instructions / request', 'vs console off'],
    r.rows.map((x) => [x.tree, x.variant, x.per_request.toLocaleString('en-US'), x.vs_console_off === null ? '' : `${x.vs_console_off >= 0 ? '+' : ''}${(100 * x.vs_console_off).toFixed(2)}%`]),
  ),
);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
