// A Prometheus-like scraper for bench/scrape-load.mjs: GET URL at RATE scrapes a second for
// SECONDS over one keep-alive connection, never two at once (a tick that finds the previous
// scrape still running is skipped, as Prometheus does not overlap scrapes of a target);
// `--gzip` sends `Accept-Encoding: gzip`, as Prometheus does on every scrape. Each scrape is
// timed from the request to the body's last byte (not decompressed), and to the response's first
// byte (the server's work and its queue, without the transfer). Prints one JSON line.
//   node bench/lib/scraper.mjs URL RATE SECONDS [--gzip]
import { Agent, request } from 'node:http';
import { median } from './stats.mjs';

const [url, rate = '10', seconds = '10'] = process.argv.slice(2);
const gzip = process.argv.includes('--gzip');
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const interval = 1000 / Number(rate);
const times = [];
const firstByte = [];
const encodings = new Set();
let bytes = 0;
let errors = 0;
let skipped = 0;
let scheduled = 0;
let inFlight = null;

function scrape() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request(url, { agent, headers: gzip ? { 'accept-encoding': 'gzip' } : {} }, (res) => {
      const headersAt = performance.now();
      let n = 0;
      res.on('data', (chunk) => {
        n += chunk.length;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) errors++;
        else {
          times.push(performance.now() - t0);
          firstByte.push(headersAt - t0);
          bytes += n;
          encodings.add(res.headers['content-encoding'] ?? 'identity');
        }
        resolve();
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error('scrape timed out')));
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

const start = performance.now();
// Ticks at start + i * interval, counted rather than accumulated (no float drift in how many).
const ticks = Math.round(Number(seconds) * Number(rate));
for (let i = 0; i < ticks; i++) {
  const wait = start + i * interval - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  scheduled++;
  if (inFlight) {
    skipped++;
    continue;
  }
  inFlight = scrape().then(() => {
    inFlight = null;
  });
}
if (inFlight) await inFlight;
agent.destroy();
const sorted = [...times].sort((a, b) => a - b);
const pct = (p) => (sorted.length === 0 ? null : +sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(2));
process.stdout.write(
  `${JSON.stringify({
    scheduled,
    scrapes: times.length,
    skipped,
    errors,
    p50_ms: times.length === 0 ? null : +median(times).toFixed(2),
    first_byte_p50_ms: firstByte.length === 0 ? null : +median(firstByte).toFixed(2),
    p99_ms: pct(0.99),
    max_ms: sorted.length === 0 ? null : +sorted[sorted.length - 1].toFixed(2),
    mean_ms: times.length === 0 ? null : +(times.reduce((a, b) => a + b, 0) / times.length).toFixed(2),
    bytes_per_scrape: times.length === 0 ? 0 : Math.round(bytes / times.length),
    encodings: [...encodings],
  })}\n`,
);
