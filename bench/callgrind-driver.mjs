// Runs one benchmark server and a keep-alive client in one process, for bench/callgrind.mjs:
//   node bench/callgrind-driver.mjs FRAMEWORK VARIANT N [--sink URL] [--idle SECONDS]
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
// Start from an empty young generation: the first scavenge after start-up copies everything the
// start-up left alive (modules, compiled code), and whether it fell between request 1,200 and
// 4,200 or after decided up to 70,000 "instructions per request" for the variants that load more.
// Minor collections only: a full one flushed feedback and sent every request through V8's slow
// property paths afterwards (+80,000 instructions per request on bare Fastify).
globalThis.gc?.({ type: 'minor' });
globalThis.gc?.({ type: 'minor' });
const t0 = performance.now();
for (let i = 0; i < Number(n); i++) await get(i);
// The loop's wall time: the harness takes out the timer-driven work that ran meanwhile.
process.stderr.write(`driver-loop-ms: ${performance.now() - t0}\n`);
agent.destroy();
// `--idle S`: stay up S seconds with no traffic, to count the timer-driven work per second.
const idle = rest.indexOf('--idle');
if (idle >= 0) await new Promise((resolve) => setTimeout(resolve, 1000 * Number(rest[idle + 1])));
process.exit(0);
