// The span the benchmarks export: a SERVER span with the attributes periscope's server span
// carries for a Fastify request, started, filled, renamed and ended as periscope does.

/** Makes and ends one such span with `tracer`; `i` varies its path. */
export function serverSpan(tracer, i) {
  const span = tracer.startSpan('GET', { kind: 1 });
  span.setAttribute('http.request.method', 'GET');
  span.setAttribute('url.path', `/hello/user${i}`);
  span.setAttribute('url.scheme', 'http');
  span.setAttribute('server.address', '127.0.0.1');
  span.setAttribute('network.protocol.version', '1.1');
  span.setAttribute('client.address', '127.0.0.1');
  span.setAttribute('server.port', 8080);
  span.setAttribute('user_agent.original', 'wrk/4.1.0');
  span.setAttribute('http.route', '/hello/:name');
  span.setAttribute('http.response.status_code', 200);
  span.updateName('GET /hello/:name');
  span.end();
}
