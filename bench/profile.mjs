// Profiles one benchmark server under load: starts it with `--cpu-prof`, drives wrk at it
// (pinned like the HTTP scenario), stops it, and prints where the CPU time went, by
// function (self time) and by package.
//   node bench/profile.mjs FRAMEWORK VARIANT [--duration S] [--warmup S] [--top N] [--keep DIR]
// The .cpuprofile is written to a temporary directory (or DIR with --keep), so it can also
// be opened in Chrome DevTools.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAS_WRK, load, PINNING, startServer, stop } from './lib/procs.mjs';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const [framework, variant] = argv;
if (!framework || !variant) {
  process.stderr.write('usage: node bench/profile.mjs FRAMEWORK VARIANT [--duration S] [--warmup S] [--top N] [--keep DIR]\n');
  process.exit(2);
}
const duration = Number(opt('--duration', '10'));
const warmup = Number(opt('--warmup', '3'));
const top = Number(opt('--top', '40'));
const dir = opt('--keep') ?? mkdtempSync(join(tmpdir(), 'periscope-prof-'));

// Variants that export spans get the same local OTLP sink as in the HTTP scenario.
const sink = variant.includes('full') ? await startServer('otlp-sink', [], { cpu: PINNING?.load }) : undefined;
const sinkArgs = sink ? ['--sink', `http://127.0.0.1:${sink.port}/v1/traces`] : [];
const server = await startServer(framework, [variant, ...sinkArgs], { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
if (server.unavailable) throw new Error(server.unavailable);
const url = `http://127.0.0.1:${server.port}/hello/world`;
const warm = warmup > 0 ? await load(url, warmup, 64) : { requests: 0 };
const result = await load(url, duration, 64);
const requests = warm.requests + result.requests;
await stop(server, 10_000);
await stop(sink);

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no profile written to ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));

// Self time per node = samples that hit it x the mean sampling interval.
const interval = (profile.endTime - profile.startTime) / profile.samples.length;
const hits = new Map();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const byFunction = new Map();
const byPackage = new Map();
let total = 0;
for (const node of profile.nodes) {
  const n = hits.get(node.id) ?? 0;
  if (n === 0) continue;
  total += n;
  const { functionName, url: src, lineNumber } = node.callFrame;
  const where = src ? src.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '~/').replace(/^.*\/(dist|src)\//, '$1/') : '';
  const key = `${functionName || '(anonymous)'} ${where}${where ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + n);
  const pkg = !src ? functionName : src.startsWith('node:') ? 'node:' + src.slice(5).split('/')[0] : /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(src)?.[1] ?? (src.includes('/dist/') ? 'periscope' : 'other');
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + n);
}
// Self time as a share of all samples, and in microseconds per request served.
const pct = (n) => `${((100 * n) / total).toFixed(1).padStart(5)}% ${((n * interval) / requests).toFixed(2).padStart(6)} µs/req`;
const print = (title, map, limit) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, n] of [...map].sort((a, b) => b[1] - a[1]).slice(0, limit)) process.stdout.write(`${pct(n)}  ${k}\n`);
};
process.stdout.write(
  `${framework} ${variant}: ${Math.round(result.rps)} req/s over ${duration} s (${HAS_WRK ? 'wrk' : 'built-in load'}${PINNING ? ', pinned' : ''}); ${total} samples at ${(interval / 1000).toFixed(2)} ms, ${((total * interval) / requests).toFixed(1)} µs of samples per request (idle included); profile in ${join(dir, file)} (${requests} requests)\n`,
);
print('by package (self time)', byPackage, 20);
print('by function (self time)', byFunction, top);
