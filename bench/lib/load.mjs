// Fallback load generator for machines without wrk (CI smoke runs): keep-alive HTTP/1.1
// from one process, `connections` requests in flight, for `seconds`. Prints one JSON line
// shaped like parseWrk()'s result. Numbers from it are not comparable with wrk's.
//   node bench/lib/load.mjs URL CONNECTIONS SECONDS
import { Agent, request } from 'node:http';
import { median } from './stats.mjs';

const [url, connections = '16', seconds = '1'] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true, maxSockets: Number(connections) });
const until = performance.now() + Number(seconds) * 1000;
const latencies = [];
let errors = 0;

function one() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode >= 400) errors++;
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
  while (performance.now() < until) await one();
}

const start = performance.now();
await Promise.all(Array.from({ length: Number(connections) }, worker));
const elapsed = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const p99 = latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))];
process.stdout.write(`${JSON.stringify({ rps: latencies.length / elapsed, p50_ms: median(latencies), p99_ms: p99, requests: latencies.length, errors })}\n`);
agent.destroy();
