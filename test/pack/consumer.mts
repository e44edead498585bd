// A strict TypeScript consumer of the installed tarball (ESM, moduleResolution nodenext): the API of
// the README's tour. `install.pack.ts` copies it into a fresh app, type-checks it with `tsc` and runs it.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Counter, Gauge, Histogram, Registry, Summary, instrument, isPeriscopeError } from 'periscope-node';
import type { CheckResult, HealthzBody, Periscope } from 'periscope-node';
import { Counter as MetricsCounter } from 'periscope-node/metrics';

const out = (line: string): void => void process.stdout.write(`> ${line}\n`);

// Fastify: the handle, a business counter (the package's own Counter), a span, a check, a breaker.
const fastify = Fastify();
const obs: Periscope = instrument(fastify, { serviceName: 'pack-fastify', version: '1.2.3' });
const orders = new Counter({ name: 'orders_placed_total', help: 'Orders placed.', labelNames: ['channel'] as const, registers: [obs.registry] });
const queue = new Gauge({ name: 'queue_depth', help: 'Jobs waiting.', registers: [obs.registry] });
const work = new Histogram({ name: 'work_seconds', help: 'Time spent working.', buckets: [0.5, 1], registers: [obs.registry] });
const payloads = new Summary({ name: 'payload_bytes', help: 'Payload sizes.', percentiles: [0.5], registers: [obs.registry] });
obs.health.register('queue', (): CheckResult => ({ status: 'degraded', message: 'backlog' }), { critical: false });
const payments = obs.breaker('payments', { timeoutMs: 1000 });

fastify.get<{ Params: { id: string } }>('/users/:id', async (request) => {
  orders.inc({ channel: 'web' });
  queue.set(3);
  work.observe(0.25);
  payloads.observe(512);
  const paid = await payments.execute(async () => 'paid');
  return obs.withSpan('load-user', async (span) => {
    obs.logger.info({ user: request.params.id }, 'user loaded');
    return { id: request.params.id, paid, traced: span.spanContext().traceId.length };
  });
});

await fastify.listen({ port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;
out(`body ${await (await fetch(`${base}/users/42`)).text()}`);
const text = await (await fetch(`${base}/metrics`)).text();
for (const name of ['http_requests_total', 'orders_placed_total', 'queue_depth', 'work_seconds_count', 'payload_bytes_count']) {
  out(text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)) ?? `${name} missing`);
}
const health = (await (await fetch(`${base}/healthz`)).json()) as HealthzBody;
out(`healthz ${health.status} ${health.version} queue=${health.checks.queue?.status} ${health.checks.queue?.message}`);
out(`registry ${obs.registry instanceof Registry} same-class ${Counter === MetricsCounter}`);

// Express: the same call, a nested router's full template.
const app = express();
const eobs: Periscope = instrument(app, { serviceName: 'pack-express', version: '1.2.3' });
const api = express.Router();
api.get('/orders/:id', (req, res) => {
  res.json({ id: req.params.id });
});
app.use('/api', api);
const server: Server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
const ebase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
out(`body ${await (await fetch(`${ebase}/api/orders/7`)).text()}`);
const etext = await (await fetch(`${ebase}/metrics`)).text();
out(etext.split('\n').find((l) => l.startsWith('http_requests_total{')) ?? 'http_requests_total missing');

// An invalid option throws a coded PeriscopeError at the call.
try {
  instrument(Fastify(), { metrics: { path: 'metrics' } });
} catch (error) {
  out(`error ${isPeriscopeError(error) ? error.code : 'not a PeriscopeError'}`);
}

const reports = await Promise.all([obs.shutdown(), eobs.shutdown()]);
out(`shutdown ${reports.length}`);
