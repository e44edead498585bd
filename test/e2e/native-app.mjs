// A service with native histograms on and one route of known latency, for the native-histogram test.
import { createServer } from 'node:http';
import { instrument } from 'periscope-node';

const server = createServer((_req, res) => setTimeout(() => res.end('ok'), 100));
instrument(server, { routes: ['/sleep'], serviceName: 'native', metrics: { nativeHistograms: true }, logging: false });
server.listen(0, '127.0.0.1', () => console.log(`service: http://127.0.0.1:${server.address().port}/ metrics:`));
