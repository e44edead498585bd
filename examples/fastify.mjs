// The periscope demo on Fastify: `npm start`, then open the URLs it prints.
// PERISCOPE_CONSOLE=1 npm start also serves the developer console and prints its URL.
import Fastify from 'fastify';
import { instrument, isCircuitOpenError } from 'periscope-node';

const app = Fastify();
const obs = instrument(app, { serviceName: 'periscope-demo-fastify' });

const MAX_SLOW_MS = 10_000;

app.get('/hello/:name', async (request) => {
  request.log.info({ name: request.params.name }, 'said hello');
  return { hello: request.params.name };
});

// A dependency behind a circuit breaker: `?fail=1` makes the call fail; three failures in a
// row open the breaker, which then answers at once (503) for five seconds (DEMO_BREAKER_OPEN_MS
// sets another pause: the browser test keeps it open while it looks).
const downstream = obs.breaker('downstream', { consecutiveFailures: 3, openMs: Number(process.env.DEMO_BREAKER_OPEN_MS) || 5000 });
app.get('/downstream', async (request, reply) => {
  const fail = request.query.fail === '1';
  try {
    return await downstream.execute(async () => {
      if (fail) throw new Error('downstream refused the call');
      return { downstream: 'ok' };
    });
  } catch (error) {
    request.log.warn({ err: error }, 'downstream call failed');
    return reply.code(isCircuitOpenError(error) ? 503 : 502).send({ error: error.message });
  }
});

app.get('/slow', async (request) => {
  const ms = Math.min(Math.max(Number(request.query.ms) || 0, 0), MAX_SLOW_MS);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { waitedMs: ms };
});

app.get('/fail', async () => {
  throw new Error('this route always fails');
});

// Loopback unless HOST says otherwise (HOST=0.0.0.0 accepts other machines, as in a container).
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
// The URLs printed: localhost for loopback and wildcard addresses, else the address itself.
const urlHost = ['127.0.0.1', '::1', '0.0.0.0', '::'].includes(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host;
await app.listen({ port, host });
const base = `http://${urlHost}:${app.server.address().port}`;
const lines = [
  `periscope demo (${obs.framework}) listening on ${host}:${app.server.address().port} (HOST, PORT)`,
  `  service:  ${base}/hello/world   ${base}/slow?ms=250   ${base}/fail`,
  `  metrics:  ${base}/metrics`,
];
if (obs.health !== undefined) lines.push(`  health:   ${base}/livez   ${base}/readyz   ${base}/healthz`);
lines.push(`  breaker:  ${base}/downstream   ${base}/downstream?fail=1`);
if (obs.options.console !== false) lines.push(`  console:  ${await obs.consoleUrl()}`);
console.log(lines.join('\n'));
