// One benchmark server: Fastify 5 with `GET /hello/:name`, instrumented as the variant says.
//   node bench/servers/fastify.mjs VARIANT [--sink URL] [--max-series N] [--extra-routes N]
import { instrumentPeriscope, parseArgs, ready, require, setupPeerTracing, unavailable, Unavailable } from './common.mjs';

const args = parseArgs();
let otel;
if (args.peer && args.tracing) {
  const provider = setupPeerTracing(args, []);
  const FastifyOtelInstrumentation = require('@fastify/otel');
  otel = new FastifyOtelInstrumentation();
  otel.setTracerProvider(provider);
}

const Fastify = require('fastify');
// The peer stack's request logs are Fastify's own pino logger (stdout, like periscope's).
const app = Fastify({ logger: args.peer && args.logs });
if (otel) await app.register(otel.plugin());
if (args.variant === 'peer-metrics' || (args.peer && args.tracing)) {
  await app.register(require('fastify-metrics').default, { endpoint: '/metrics' });
}
if (!args.peer && args.variant !== 'bare') {
  try {
    await instrumentPeriscope(app, args);
  } catch (error) {
    if (error instanceof Unavailable) unavailable(error.message);
    else throw error;
  }
}

app.get('/hello/:name', async (request) => ({ hello: request.params.name }));
// For the scrape scenario: N distinct route templates, so N requests make N label sets.
for (let i = 0; i < args.extraRoutes; i++) app.get(`/s${i}`, async () => 'ok');
await app.listen({ port: 0, host: '127.0.0.1' });
ready(app.server.address().port);
