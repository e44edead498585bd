// OTLP span export encoding: JSON (exporter-trace-otlp-http) against protobuf
// (exporter-trace-otlp-proto's ProtobufTraceSerializer) and periscope's own protobuf encoder
// (dist/tracing/otlp-encoder.js; run `npm run build` first), on batches of server spans shaped
// like periscope's (the same attributes, resource and scope). Interleaved rounds; the median per
// span is printed.
//   node bench/export-encoding.mjs [--spans N] [--rounds N]
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { OtlpTraceEncoder } from '../dist/tracing/otlp-encoder.js';
import { serverSpan } from './lib/server-span.mjs';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const batch = opt('--spans', 512);
const rounds = opt('--rounds', 15);
const warmup = opt('--warmup', 5);

const spans = [];
const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'bench', 'service.version': '1.0.0', 'host.name': 'bench-host', 'host.arch': 'amd64', 'process.pid': 4242 }),
  spanProcessors: [{ onStart() {}, onEnd: (span) => spans.push(span), forceFlush: async () => {}, shutdown: async () => {} }],
});
const tracer = provider.getTracer('periscope');
for (let i = 0; i < batch; i++) serverSpan(tracer, i);

const periscope = new OtlpTraceEncoder();
const encoders = { json: JsonTraceSerializer, protobuf: ProtobufTraceSerializer, periscope: { serializeRequest: (s) => periscope.encode(s) } };
const times = Object.fromEntries(Object.keys(encoders).map((name) => [name, []]));
const sizes = {};
for (let r = -warmup; r < rounds; r++) {
  for (const [name, encoder] of Object.entries(encoders)) {
    const t = performance.now();
    const body = encoder.serializeRequest(spans);
    // The first rounds warm the JIT up and are not counted.
    if (r >= 0) times[name].push(((performance.now() - t) * 1000) / batch);
    sizes[name] = body.length / batch;
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const name of Object.keys(encoders)) {
  const sorted = [...times[name]].sort((a, b) => a - b);
  process.stdout.write(
    `${name.padEnd(10)} ${median(times[name]).toFixed(2)} µs/span (median of ${rounds} batches of ${batch}; min ${sorted[0].toFixed(2)}, max ${sorted.at(-1).toFixed(2)})  ${sizes[name].toFixed(0)} bytes/span\n`,
  );
}
