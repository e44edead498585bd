// Runs one benchmark server and a keep-alive client in one process, for bench/callgrind.mjs:
//   node bench/callgrind-driver.mjs FRAMEWORK VARIANT N [--sink URL] [--idle SECONDS] [--warmup W]
// Loads bench/servers/FRAMEWORK.mjs with VARIANT, sends N sequential GET /hello/:name requests
// over one keep-alive connection (a raw socket), and exits. Under callgrind, the instruction count of N = 1,200
// and N = 4,200 runs differ by exactly 3,000 requests' worth: start-up and JIT warm-up cancel.
import { connect } from 'node:net';

const [framework, variant, n, ...rest] = process.argv.slice(2);
globalThis.benchInProcess = true;
process.argv = [process.argv[0], process.argv[1], variant, ...rest];
const { listening } = await import(`./servers/common.mjs`);
await import(`./servers/${framework}.mjs`);
const port = await listening;

// The client is a bare socket writing HTTP/1.1 by hand, not node:http: a node:http client in the
// same process is seen by periscope's outgoing-call tracing (the http.client diagnostics
// channels), which made every tracing variant pay for a CLIENT span per request that an external
// client (wrk) never causes, and let that span's traceparent decide the server's sampling.
const socket = connect({ host: '127.0.0.1', port, noDelay: true });
await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
let pending = Buffer.alloc(0);
let waiting = null;
socket.on('data', (chunk) => {
  pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
  const end = pending.indexOf('\r\n\r\n');
  if (end === -1 || waiting === null) return;
  const head = pending.toString('latin1', 0, end);
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length === null) return waiting.reject(new Error(`no content-length in ${head}`));
  const total = end + 4 + Number(length[1]);
  if (pending.length < total) return;
  if (!head.startsWith('HTTP/1.1 200')) return waiting.reject(new Error(head.split('\r\n')[0]));
  pending = pending.subarray(total);
  const w = waiting;
  waiting = null;
  w.resolve();
});
const requests = Array.from({ length: 8 }, (_, i) => `GET /hello/n${i} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n`);
function get(i) {
  return new Promise((resolve, reject) => {
    waiting = { resolve, reject };
    socket.write(requests[i & 7]);
  });
}
// Start from an empty young generation: the first scavenge after start-up copies everything the
// start-up left alive (modules, compiled code), and whether it fell between request 1,200 and
// 4,200 or after decided up to 70,000 "instructions per request" for the variants that load more.
// Minor collections only: a full one flushed feedback and sent every request through V8's slow
// property paths afterwards (+80,000 instructions per request on bare Fastify).
// `--warmup W`: W requests and one span export before the count starts (the same in both runs, so
// they cancel). A server exports every few seconds; the first export's code sends request-path
// code it shares (stream reads and writes) back to V8's baseline tier, and without a warm-up that
// happened inside the window or not depending on the sampling ratio (at 10%, the 1,200-4,200
// window held no export; from 4,200 to 10,200 it held one, and full-10 read 23% more).
const warmup = rest.indexOf('--warmup');
if (warmup >= 0) {
  const w = Number(rest[warmup + 1]);
  for (let i = 0; i < w; i++) await get(i);
  await globalThis.benchExport?.();
  for (let i = 0; i < w; i++) await get(i);
}
globalThis.gc?.({ type: 'minor' });
globalThis.gc?.({ type: 'minor' });
const t0 = performance.now();
for (let i = 0; i < Number(n); i++) await get(i);
// The loop's wall time: the harness takes out the timer-driven work that ran meanwhile.
process.stderr.write(`driver-loop-ms: ${performance.now() - t0}\n`);
socket.destroy();
// `--idle S`: stay up S seconds with no traffic, to count the timer-driven work per second.
const idle = rest.indexOf('--idle');
if (idle >= 0) await new Promise((resolve) => setTimeout(resolve, 1000 * Number(rest[idle + 1])));
// Spans still queued for export are exported now, outside any timer: bench/callgrind.mjs
// leaves out what timers run (and sets a schedule delay no run reaches), so export work is
// counted here and where a full batch starts an export from the request path.
await globalThis.benchFlush?.();
process.exit(0);
