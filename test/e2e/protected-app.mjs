// A service whose /metrics requires a bearer token, for the Prometheus authorization test.
import { createServer } from 'node:http';
import { instrument } from 'periscope-node';

const server = createServer((_req, res) => res.end('ok'));
instrument(server, { routes: ['/'], serviceName: 'protected', metrics: { auth: { bearerToken: process.env.METRICS_TOKEN } } });
server.listen(0, '127.0.0.1', () => console.log(`service: http://127.0.0.1:${server.address().port}/ metrics:`));
