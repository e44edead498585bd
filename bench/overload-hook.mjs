// The overload limiter's own cost per request when nothing is shed: its hook's onStart + onEnd
// (admit, release, the sampling window) on scope-shaped objects, timed over 1,000,000 requests,
// 7 repetitions, median reported, against the same loop with an empty hook. Uses the build.
//   node bench/overload-hook.mjs
import { join } from 'node:path';
import { Registry } from '@prometheus-io/client';
import { ROOT } from './lib/procs.mjs';
import { machineMeta } from './lib/readme.mjs';

const { overloadConcern, resolveOverload } = await import(join(ROOT, 'dist', 'overload', 'index.js'));
const N = 1_000_000;
const ctx = () => ({ registry: new Registry(), logger: { debug() {} }, report() {}, notice() {} });
const hooks = {
  empty: { onStart() {}, onEnd() {} },
  gradient: overloadConcern(ctx(), resolveOverload({ limit: 'gradient' }), { registerCheck: undefined }).hook,
  partitions: overloadConcern(ctx(), resolveOverload({ limit: 'gradient', partitions: [{ name: 'api', routes: ['/api/*'], share: 0.5 }] }), { registerCheck: undefined }).hook,
};
// 64 requests in flight at a time, as the core's scopes look (the fields the hook reads and writes).
const scopes = Array.from({ length: 64 }, (_, i) => ({ req: { url: `/api/items/${i}` }, startTime: 0, duration: 0.002, error: undefined, rejection: undefined, overloadPartition: -2, route: '/api/items/:id' }));

function run(hook) {
  const t0 = performance.now();
  for (let i = 0; i < N; i += 64) {
    for (let j = 0; j < 64; j++) {
      const s = scopes[j];
      s.startTime = i * 0.01;
      hook.onStart(s);
    }
    for (let j = 0; j < 64; j++) hook.onEnd(scopes[j]);
  }
  return ((performance.now() - t0) * 1e6) / N;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = { ...machineMeta(), requests: N, ns_per_request: {} };
for (const hook of Object.values(hooks)) run(hook);
for (const [name, hook] of Object.entries(hooks)) out.ns_per_request[name] = +median(Array.from({ length: 7 }, () => run(hook))).toFixed(1);
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
