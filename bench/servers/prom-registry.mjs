// The reference for the scrape scenario: prom-client's own Registry holding the same request
// metrics as periscope (a counter and two histograms with periscope's buckets, labels method,
// route, status_code) with N label sets, plus the client's default metrics, served by
// node:http from `registry.metrics()`.
//   node bench/servers/prom-registry.mjs --series N
import { createServer } from 'node:http';
import { ready, require } from './common.mjs';

const argv = process.argv.slice(2);
const series = Number(argv[argv.indexOf('--series') + 1]);
const { Registry, Counter, Histogram, collectDefaultMetrics } = require('prom-client');
const registry = new Registry();
collectDefaultMetrics({ register: registry });
const labelNames = ['method', 'route', 'status_code'];
const requests = new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames, registers: [registry] });
const duration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Duration.',
  labelNames,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
const size = new Histogram({ name: 'http_response_size_bytes', help: 'Size.', labelNames, buckets: [100, 1000, 10000, 100000, 1000000, 10000000], registers: [registry] });
for (let i = 0; i < series; i++) {
  const labels = { method: 'GET', route: `/s${i}`, status_code: '200' };
  requests.inc(labels);
  duration.observe(labels, 0.001);
  size.observe(labels, 2);
}

const server = createServer(async (req, res) => {
  if (req.url !== '/metrics') return res.writeHead(404).end();
  const body = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(body) }).end(body);
});
server.listen(0, '127.0.0.1', () => ready(server.address().port));
