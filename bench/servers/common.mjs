// Shared by the benchmark servers: argument parsing, the periscope and OpenTelemetry
// set-ups, and the ready handshake with the runner (over IPC, so stdout stays free for
// logs and can go to /dev/null for every variant alike).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every variant the harness knows, in table order. */
export const VARIANTS = ['bare', 'metrics', 'metrics+logs', 'full-10', 'full-100', 'peer-metrics', 'peer-full-10', 'peer-full-100', 'full-10+diag', 'full-10+watchdog'];
/**
 * Variants only asked for by name (bench/callgrind.mjs): `metrics+overload` is `metrics` with the
 * overload limiter on (Gradient2), for its cost without overload; `metrics-alone` is `metrics`
 * with health, shutdown, slow requests and db off, to split the request metrics' own share;
 * `full-0` is `full-10` sampling nothing (exporter on), for the unsampled request's own cost;
 * any variant followed by `+console` is that variant with the developer console on (its taps and
 * buffers), for the console's cost when on (off, nothing of it is built).
 */
export const EXTRA_VARIANTS = ['metrics+overload', 'metrics-alone', 'full-0'];

/** `node server.mjs VARIANT [--sink URL] [--max-series N] [--extra-routes N] [--loop-stats]`. */
export function parseArgs(argv = process.argv.slice(2)) {
  const withConsole = argv[0]?.endsWith('+console') === true;
  const variant = withConsole ? argv[0].slice(0, -'+console'.length) : argv[0];
  if (!VARIANTS.includes(variant) && !EXTRA_VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}; known: ${[...VARIANTS, ...EXTRA_VARIANTS].join(', ')}`);
  const opt = (name) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const full = /^full-(\d+)/.exec(variant) ?? /^peer-full-(\d+)$/.exec(variant);
  // `+diag`: diagnostics on a loopback side port, watchdog off; `+watchdog`: the same with the
  // stall watchdog on (its default), so the pair measures the watchdog alone.
  const diagnostics = variant.endsWith('+diag') ? { port: 0, host: '127.0.0.1', stallMs: false } : variant.endsWith('+watchdog') ? { port: 0, host: '127.0.0.1' } : undefined;
  return {
    variant,
    peer: variant.startsWith('peer-'),
    sampleRatio: full ? Number(full[1]) / 100 : 0,
    logs: variant === 'metrics+logs' || full !== null,
    tracing: full !== null,
    sink: opt('--sink') ?? 'http://127.0.0.1:4318/v1/traces',
    maxSeries: opt('--max-series') === undefined ? undefined : Number(opt('--max-series')),
    extraRoutes: Number(opt('--extra-routes') ?? 0),
    diagnostics,
    overload: variant === 'metrics+overload',
    alone: variant === 'metrics-alone',
    console: withConsole,
  };
}

let announce;
/** Resolves with the port once the server listens: for a driver that loads a server in its own process (bench/callgrind.mjs). */
export const listening = new Promise((resolve) => (announce = resolve));

/** Tells the runner the port, or why this variant cannot run, then (for the latter) exits. */
export function ready(port) {
  announce(port);
  if (globalThis.benchInProcess) return;
  if (process.send) process.send({ port });
  else process.stderr.write(`listening on ${port}\n`);
}

export function unavailable(reason) {
  if (process.send) process.send({ unavailable: reason }, () => process.exit(0));
  else {
    process.stderr.write(`not available: ${reason}\n`);
    process.exit(0);
  }
}

export class Unavailable extends Error {}

/**
 * periscope with the subsystems the variant asks for. An option periscope does not know
 * yet is detected through PERISCOPE_ERR_UNKNOWN_OPTION: when the variant needs it the
 * variant is unavailable; when it only turns a subsystem off, it is dropped (a subsystem
 * periscope lacks is off anyway).
 */
export async function instrumentPeriscope(app, args) {
  const { instrument } = await import(join(root, 'dist', 'index.js'));
  const options = {
    // bench/callgrind.mjs counts requests with the Prometheus client's runtime metrics off: their
    // timers sample per second of wall time, not per request (its idle runs keep them).
    metrics: { ...(args.maxSeries === undefined ? {} : { maxSeries: args.maxSeries }), ...(process.env.BENCH_RUNTIME_METRICS === 'off' ? { defaultMetrics: false } : {}) },
    logging: args.logs ? { destination: 'stdout' } : false,
    tracing: args.tracing ? { endpoint: args.sink, exporter: 'otlp', sampleRatio: args.sampleRatio } : false,
    ...(args.diagnostics === undefined ? {} : { diagnostics: args.diagnostics }),
    ...(args.overload ? { overload: { limit: 'gradient' } } : {}),
    ...(args.alone ? { health: false, shutdown: false, slowRequests: false, db: false } : {}),
    ...(args.console ? { console: true } : {}),
  };
  for (;;) {
    try {
      const obs = instrument(app, options);
      // bench/callgrind-driver.mjs: spans still queued are exported after the request loop.
      if (globalThis.benchInProcess) {
        globalThis.benchFlush = () => obs.shutdown();
        // The driver's warm-up: export what is queued now, as the batch timer would (the SDK
        // tracer keeps its span processor as `_spanProcessor`; absent with tracing off).
        globalThis.benchExport = () => obs.tracer?._spanProcessor?.forceFlush?.();
      }
      return obs;
    } catch (error) {
      const option = error?.code === 'PERISCOPE_ERR_UNKNOWN_OPTION' ? String(error.option ?? '') : '';
      const top = option.split('.')[0];
      if (top !== 'logging' && top !== 'tracing') throw error;
      if (options[top] !== false) throw new Unavailable(`periscope has no ${top} option yet (${option})`);
      delete options[top];
    }
  }
}

/**
 * The hand-assembled OpenTelemetry stack, set up as the SDK and instrumentation READMEs
 * show: a TracerProvider with a parent-based ratio sampler and a batch processor feeding
 * the OTLP/HTTP exporter, the AsyncLocalStorage context manager, W3C propagators, and
 * the given instrumentations (http first). Must run before the framework is loaded so the
 * http instrumentation can patch `node:http` as the framework requires it.
 */
export function setupPeerTracing(args, instrumentations) {
  const api = require('@opentelemetry/api');
  const { TracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } = require('@opentelemetry/sdk-trace');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  const { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } = require('@opentelemetry/core');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');

  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench-peer' }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(args.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: args.sink }) })],
  });
  api.trace.setGlobalTracerProvider(provider);
  if (globalThis.benchInProcess) globalThis.benchFlush = () => provider.forceFlush();
  registerInstrumentations({ tracerProvider: provider, instrumentations: [new HttpInstrumentation(), ...instrumentations] });
  return provider;
}

// `--loop-stats` (bench/tails.mjs, bench/scrape-load.mjs): the event-loop delay histogram and
// GC pauses, reported over IPC; not in a server loaded in-process (bench/callgrind.mjs).
if (process.argv.includes('--loop-stats') && !globalThis.benchInProcess) (await import('./loop-stats.mjs')).startLoopStats();

// Exit cleanly on the runner's SIGTERM so `--cpu-prof` profiles and async logs are written.
process.once('SIGTERM', () => process.exit(0));

// The runner asks for a garbage collection (when started with --expose-gc) and memory figures.
process.on('message', (message) => {
  if (message !== 'memory') return;
  globalThis.gc?.();
  const m = process.memoryUsage();
  process.send({ memory: { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external } });
});
