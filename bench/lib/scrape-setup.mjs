// The periscope server of the scrape scenarios (bench/scrape.mjs, bench/scrape-load.mjs):
// Fastify with the `metrics` variant and N extra route templates, filled by N real requests
// so the request metrics hold N label sets (one label set is 24 exposition samples).
import { loadCount, startServer, stop } from './procs.mjs';

/** Starts the server and fills it; resolves the started server. `args` go to the server too. */
export async function startFilledPeriscope(labelSets, { args = [], nodeArgs = [] } = {}) {
  const server = await startServer('fastify', ['metrics', '--max-series', String(labelSets + 100), '--extra-routes', String(labelSets), ...args], { nodeArgs, timeoutMs: 120_000 });
  if ('unavailable' in server) throw new Error(server.unavailable);
  try {
    const fill = await loadCount(`http://127.0.0.1:${server.port}/s`, 32, { count: labelSets, numberedPaths: true, timeoutMs: 600_000 });
    if (fill.errors > 0) throw new Error(`filling periscope: ${fill.errors} errors`);
  } catch (error) {
    await stop(server);
    throw error;
  }
  return server;
}
