// Node load generator: keep-alive HTTP/1.1 from one process, CONNECTIONS requests in flight,
// for SECONDS or for exactly --count requests. --random-paths appends a random lowercase word
// per request (letters past `f`, so no path normalizer mistakes it for a hex or numeric ID);
// --numbered-paths appends the request's index (0, 1, ...).
// Prints one JSON line shaped like parseWrk()'s result. The fallback when wrk is missing and
// the client of the cardinality and scrape scenarios; its numbers are not comparable with wrk's.
//   node bench/lib/load.mjs URL CONNECTIONS SECONDS [--count N] [--random-paths | --numbered-paths]
import { Agent, request } from 'node:http';
import { median } from './stats.mjs';

const argv = process.argv.slice(2);
const [url, connections = '16', seconds = '1'] = argv;
const countAt = argv.indexOf('--count');
const count = countAt >= 0 ? Number(argv[countAt + 1]) : Infinity;
const randomPaths = argv.includes('--random-paths');
const numberedPaths = argv.includes('--numbered-paths');
const agent = new Agent({ keepAlive: true, maxSockets: Number(connections) });
const until = count === Infinity ? performance.now() + Number(seconds) * 1000 : Infinity;
const latencies = [];
let errors = 0;
let started = 0;
let status4xx = 0;

function word() {
  let w = '';
  for (let i = 0; i < 10; i++) w += String.fromCharCode(103 + Math.floor(Math.random() * 20));
  return w;
}

function one(index) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const target = randomPaths ? url + word() : numberedPaths ? url + index : url;
    const req = request(target, { agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode >= 500) errors++;
        else if (res.statusCode >= 400) status4xx++;
        latencies.push(performance.now() - t0);
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

async function worker() {
  while (started < count && performance.now() < until) {
    await one(started++);
  }
}

const start = performance.now();
await Promise.all(Array.from({ length: Number(connections) }, worker));
const elapsed = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const p99 = latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))];
// 4xx answers count as errors for a throughput run, not for a random-path run that expects 404s.
if (!randomPaths) errors += status4xx;
process.stdout.write(`${JSON.stringify({ rps: latencies.length / elapsed, p50_ms: median(latencies), p99_ms: p99, requests: latencies.length, errors, status4xx, seconds: elapsed })}\n`);
agent.destroy();
