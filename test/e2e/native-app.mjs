// A service with native histograms on and one route that sleeps 100 ms, for the native-histogram
// test. Its request lines (stdout) carry the duration each request was measured at, so the test
// knows which buckets the observations fell in however busy the machine was.
import { createServer } from 'node:http';
import { instrument } from 'periscope-node';

const server = createServer((_req, res) => setTimeout(() => res.end('ok'), 100));
instrument(server, { routes: ['/sleep'], serviceName: 'native', metrics: { nativeHistograms: true }, logging: { requests: { fields: ['route', 'duration_ms'] } } });
server.listen(0, '127.0.0.1', () => console.log(`service: http://127.0.0.1:${server.address().port}/ metrics:`));
