// One benchmark server: Express 5 with `GET /hello/:name`, instrumented as the variant says.
//   node bench/servers/express.mjs VARIANT [--sink URL] [--max-series N]
import { instrumentPeriscope, parseArgs, ready, require, setupPeerTracing, unavailable, Unavailable } from './common.mjs';

const args = parseArgs();
if (args.peer && args.tracing) {
  const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
  setupPeerTracing(args, [new ExpressInstrumentation()]);
}

const express = require('express');
const app = express();
if (args.variant === 'peer-metrics' || (args.peer && args.tracing)) {
  // README sample plus includePath, so the route is a label as in periscope's metrics.
  const promBundle = require('express-prom-bundle');
  app.use(promBundle({ includeMethod: true, includePath: true }));
}
if (args.peer && args.logs) app.use(require('pino-http')());
if (!args.peer && args.variant !== 'bare') {
  try {
    await instrumentPeriscope(app, args);
  } catch (error) {
    if (error instanceof Unavailable) unavailable(error.message);
    else throw error;
  }
}

app.get('/hello/:name', (req, res) => {
  res.json({ hello: req.params.name });
});
const server = app.listen(0, '127.0.0.1', () => ready(server.address().port));
