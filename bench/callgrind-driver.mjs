// Runs one benchmark server and a keep-alive client in one process, for bench/callgrind.mjs:
//   node bench/callgrind-driver.mjs FRAMEWORK VARIANT N [--sink URL]
// Loads bench/servers/FRAMEWORK.mjs with VARIANT, sends N sequential GET /hello/:name requests
// over one keep-alive connection, and exits. Under callgrind, the instruction count of N = 1,200
// and N = 4,200 runs differ by exactly 3,000 requests' worth: start-up and JIT warm-up cancel.
import { Agent, request } from 'node:http';

const [framework, variant, n, ...rest] = process.argv.slice(2);
globalThis.benchInProcess = true;
process.argv = [process.argv[0], process.argv[1], variant, ...rest];
const { listening } = await import(`./servers/common.mjs`);
await import(`./servers/${framework}.mjs`);
const port = await listening;

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
function get(i) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/hello/n${i & 7}`, agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}
for (let i = 0; i < Number(n); i++) await get(i);
agent.destroy();
process.exit(0);
