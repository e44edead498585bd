// The batched log path's CPU cost per line, in process: N turns of the event loop, each
// writing LINES lines, to stdout. Run it with stdout on a pipe that a reader drains
// (the `| cat >/dev/null` below), pinned to one CPU:
//   npm run build && taskset -c 1 node bench/log-batch.mjs [--turns N] [--lines N] [--reps N] | cat >/dev/null
// Prints, on stderr, the median over reps of user+system CPU microseconds per line for
//   destination: the batch and its write alone (pre-formatted lines into the destination stream);
//   logger:      obs.logger.info(...) end to end (pino formatting included).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setImmediate } from 'node:timers';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const turns = opt('--turns', 20_000);
const perTurn = opt('--lines', 5);
const reps = opt('--reps', 7);

const { buildDestination } = await import(join(root, 'dist/logging/destinations.js'));
const { createLogger } = await import(join(root, 'dist/entries/logging.js'));
const report = (error, where) => process.stderr.write(`${where}: ${error}\n`);
// Before logging.onBackpressure (no fd-writer.js) the second argument was `sync` alone, so the
// same script measures a build from before the change.
const writeOptions = existsSync(join(root, 'dist/logging/fd-writer.js')) ? { sync: false, onBackpressure: 'drop', maxBufferBytes: 4 * 1024 * 1024 } : false;
const destination = buildDestination(['stdout'], writeOptions, report);
const logger = createLogger({ destination: 'stdout', serviceName: 'bench', version: '1.0.0' });
const line = `${JSON.stringify({ level: 'info', time: new Date().toISOString(), service: 'bench', version: '1.0.0', method: 'GET', route: '/users/:id', status_code: 200, duration_ms: 1.25, msg: 'request completed' })}\n`;

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function run(write) {
  const before = process.cpuUsage();
  for (let t = 0; t < turns; t++) {
    for (let i = 0; i < perTurn; i++) write(t, i);
    await turn();
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / (turns * perTurn);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { destination: [], logger: [] };
// Warm-up, then interleaved reps.
await run(() => destination.stream.write(line));
await run((t, i) => logger.info({ method: 'GET', route: '/users/:id', status_code: 200, t, i }, 'request completed'));
for (let r = 0; r < reps; r++) {
  results.destination.push(await run(() => destination.stream.write(line)));
  results.logger.push(await run((t, i) => logger.info({ method: 'GET', route: '/users/:id', status_code: 200, t, i }, 'request completed')));
}
process.stderr.write(
  `${turns} turns x ${perTurn} lines, ${reps} reps, Node ${process.version}: CPU µs per line (median; min-max)\n` +
    `  destination: ${median(results.destination).toFixed(3)} (${Math.min(...results.destination).toFixed(3)}-${Math.max(...results.destination).toFixed(3)})\n` +
    `  logger:      ${median(results.logger).toFixed(3)} (${Math.min(...results.logger).toFixed(3)}-${Math.max(...results.logger).toFixed(3)})\n`,
);
